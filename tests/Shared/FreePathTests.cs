using DogsVsCats.Vision.Shared;

namespace DogsVsCats.Vision.Tests.Shared;

[Trait("Category", "Fast")]
public sealed class FreePathTests : IDisposable
{
    private readonly string root = TestData.NewTempDirectory();

    public void Dispose() => Directory.Delete(root, recursive: true);

    [Fact]
    public void ForFile_FreeName_IsKept()
    {
        var path = Path.Combine(root, "cat.1.jpg");

        Assert.Equal(path, FreePath.ForFile(path));
    }

    [Fact]
    public void ForFile_TakenNames_GetTheFirstFreeNumberBeforeTheExtension()
    {
        File.WriteAllText(Path.Combine(root, "cat.1.jpg"), "a");
        File.WriteAllText(Path.Combine(root, "cat.1 (2).jpg"), "b");
        Directory.CreateDirectory(Path.Combine(root, "cat.1 (3).jpg"));   // a folder takes the name as well

        Assert.Equal(Path.Combine(root, "cat.1 (4).jpg"), FreePath.ForFile(Path.Combine(root, "cat.1.jpg")));
    }

    [Fact]
    public void ForFile_NamesHandedOutEarlier_CountAsTaken()
    {
        var planned = new HashSet<string> { Path.Combine(root, "a.png"), Path.Combine(root, "a (2).png") };

        Assert.Equal(Path.Combine(root, "a (3).png"), FreePath.ForFile(Path.Combine(root, "a.png"), planned.Contains));
    }

    [Fact]
    public void ForFile_NoExtension_NumbersTheWholeName()
    {
        File.WriteAllText(Path.Combine(root, "README"), "a");

        Assert.Equal(Path.Combine(root, "README (2)"), FreePath.ForFile(Path.Combine(root, "README")));
    }

    [Fact]
    public void CreateDirectory_Taken_MakesTheNextFolderAndLeavesTheOldOneAlone()
    {
        var first = FreePath.CreateDirectory(Path.Combine(root, "20261129-130000"));
        File.WriteAllText(Path.Combine(first, "report.md"), "first");

        var second = FreePath.CreateDirectory(Path.Combine(root, "20261129-130000"));
        var third = FreePath.CreateDirectory(Path.Combine(root, "20261129-130000") + Path.DirectorySeparatorChar);

        Assert.Equal(Path.Combine(root, "20261129-130000"), first);
        Assert.Equal(Path.Combine(root, "20261129-130000 (2)"), second);
        Assert.Equal(Path.Combine(root, "20261129-130000 (3)"), third);
        Assert.True(Directory.Exists(second) && Directory.Exists(third));
        Assert.Equal("first", File.ReadAllText(Path.Combine(first, "report.md")));
    }

    [Fact]
    public void CreateDirectory_DotInName_NumbersAfterTheWholeName()
    {
        FreePath.CreateDirectory(Path.Combine(root, "run.v1"));

        Assert.Equal(Path.Combine(root, "run.v1 (2)"), FreePath.CreateDirectory(Path.Combine(root, "run.v1")));
    }
}
