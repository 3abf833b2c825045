namespace DogsVsCats.Vision.Tests;

/// <summary>Where the real photos are, and temp copies of a few of them for tests that need to add bad files.</summary>
public static class TestData
{
    public const string DataEnvironmentVariable = "DOGSVSCATS_DATA";

    /// <summary>The dogs-vs-cats folder (cat/ and dog/ of real photos): $DOGSVSCATS_DATA, else ../shared/data/dogs-vs-cats beside the repository.</summary>
    public static string DogsVsCatsRoot { get; } = FindDataRoot();

    /// <summary>The folder holding DogsVsCats.Vision.sln.</summary>
    public static string RepositoryRoot { get; } = FindRepositoryRoot();

    /// <summary>Debian's python3 (where apt installs python3-onnx and python3-torch), else the first on PATH.</summary>
    public static string Python { get; } = File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";

    public static string NewTempDirectory()
    {
        var path = Path.Combine(Path.GetTempPath(), "dogsvscats-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(path);
        return path;
    }

    /// <summary>The first <paramref name="count"/> photos of a class, in ordinal order so every run uses the same files.</summary>
    public static IReadOnlyList<string> RealPhotos(string className, int count) =>
        Directory.EnumerateFiles(Path.Combine(DogsVsCatsRoot, className), "*.jpg")
            .Order(StringComparer.Ordinal)
            .Take(count)
            .ToList();

    /// <summary>Copies <paramref name="perClass"/> cat and dog photos into <paramref name="root"/>/cat and /dog.</summary>
    public static void CopyClassFolders(string root, int perClass, params string[] classes)
    {
        foreach (var className in classes.Length > 0 ? classes : ["cat", "dog"])
        {
            var target = Path.Combine(root, className);
            Directory.CreateDirectory(target);
            // Extra classes (e.g. "fox") borrow cat photos: the scanner only cares about folder names.
            var source = className is "cat" or "dog" ? className : "cat";
            foreach (var photo in RealPhotos(source, perClass))
            {
                File.Copy(photo, Path.Combine(target, Path.GetFileName(photo)));
            }
        }
    }

    /// <summary>Copies <paramref name="perClass"/> photos of each class into <paramref name="root"/> as cat.N.jpg / dog.N.jpg (Kaggle layout).</summary>
    public static void CopyFlat(string root, int perClass)
    {
        Directory.CreateDirectory(root);
        foreach (var className in new[] { "cat", "dog" })
        {
            foreach (var photo in RealPhotos(className, perClass))
            {
                File.Copy(photo, Path.Combine(root, Path.GetFileName(photo)));
            }
        }
    }

    private static string FindDataRoot()
    {
        var fromEnvironment = Environment.GetEnvironmentVariable(DataEnvironmentVariable);
        if (!string.IsNullOrEmpty(fromEnvironment))
        {
            return Path.GetFullPath(fromEnvironment);
        }

        return Path.GetFullPath(Path.Combine(FindRepositoryRoot(), "..", "shared", "data", "dogs-vs-cats"));
    }

    private static string FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "DogsVsCats.Vision.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException(
            $"Could not find DogsVsCats.Vision.sln above {AppContext.BaseDirectory}; set {DataEnvironmentVariable} to the dogs-vs-cats data folder.");
    }
}

/// <summary>A temp folder deleted when the test ends.</summary>
public sealed class TempDirectory : IDisposable
{
    public string Path { get; } = TestData.NewTempDirectory();

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temp folder must not fail a test that passed.
        }
    }
}
