using DogsVsCats.Vision.Shared;

namespace DogsVsCats.Vision.Tests.Shared;

[Trait("Category", "Fast")]
public sealed class AtomicFileTests : IDisposable
{
    private readonly string root = TestData.NewTempDirectory();

    public void Dispose() => Directory.Delete(root, recursive: true);

    [Fact]
    public void WriteAllText_ExistingFile_IsReplacedWholeAndNoTempFileIsLeft()
    {
        var path = Path.Combine(root, "report.md");
        File.WriteAllText(path, "old");

        AtomicFile.WriteAllText(path, "new");

        Assert.Equal("new", File.ReadAllText(path));
        Assert.Equal([path], Directory.GetFiles(root));
    }

    [Fact]
    public void Write_WriterFails_LeavesTheOldFileAndNoTempFile()
    {
        var path = Path.Combine(root, "model.onnx");
        File.WriteAllText(path, "old");

        Assert.Throws<IOException>(() => AtomicFile.Write(path, temp =>
        {
            File.WriteAllText(temp, "half");
            throw new IOException("disk full");
        }));

        Assert.Equal("old", File.ReadAllText(path));
        Assert.Equal([path], Directory.GetFiles(root));
    }

    [Fact]
    public void Write_NoOverwriteAndFileExists_FailsAndKeepsTheFile()
    {
        var path = Path.Combine(root, "model.onnx");
        File.WriteAllText(path, "old");

        Assert.Throws<IOException>(() => AtomicFile.Write(path, temp => File.WriteAllText(temp, "new"), overwrite: false));

        Assert.Equal("old", File.ReadAllText(path));
        Assert.Equal([path], Directory.GetFiles(root));
    }
}
