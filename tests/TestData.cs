namespace DogsVsCats.Vision.Tests;

public static class TestData
{
    public static string DogsVsCatsRoot { get; } = Environment.GetEnvironmentVariable("DOGSVSCATS_DATA") ?? FindData();

    private static string FindData()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "DogsVsCats.Vision.sln")))
        {
            dir = dir.Parent;
        }

        return Path.GetFullPath(Path.Combine(dir?.FullName ?? ".", "..", "shared", "data", "dogs-vs-cats"));
    }
}
