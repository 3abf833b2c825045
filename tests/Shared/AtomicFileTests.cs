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
    public void DeleteLeftovers_TempOfAKilledWrite_DeletedAndEverythingElseKept()
    {
        var killed = Path.Combine(root, ".best.pt.4242.tmp");
        File.WriteAllText(killed, "half a checkpoint");
        string[] kept = [Path.Combine(root, "best.pt"), Path.Combine(root, ".hidden.tmp"), Path.Combine(root, "notes.1.tmp")];
        foreach (var file in kept)
        {
            File.WriteAllText(file, "kept");
        }

        AtomicFile.DeleteLeftovers(root);

        Assert.False(File.Exists(killed));
        Assert.Equal(kept.Order(StringComparer.Ordinal), Directory.GetFiles(root).Order(StringComparer.Ordinal));
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

    [Fact]
    public void Write_CallerChosenTempName_ContentArrivesAndTheTempIsGone()
    {
        var path = Path.Combine(root, "cat.1.jpg");
        var temp = Path.Combine(root, ".cat.1.jpg.journalled.partial");
        string? written = null;

        AtomicFile.Write(path, temp, t => File.WriteAllText(written = t, "photo"), overwrite: false);

        Assert.Equal(temp, written);
        Assert.Equal("photo", File.ReadAllText(path));
        Assert.Equal([path], Directory.GetFiles(root));
    }

    [Fact]
    public void Write_CallerChosenTempAndTakenName_KeepsTheOtherFileAndRemovesTheTemp()
    {
        var path = Path.Combine(root, "cat.1.jpg");
        File.WriteAllText(path, "someone else's");

        Assert.Throws<IOException>(() => AtomicFile.Write(path, Path.Combine(root, ".cat.1.jpg.partial"), t => File.WriteAllText(t, "photo"), overwrite: false));

        Assert.Equal("someone else's", File.ReadAllText(path));
        Assert.Equal([path], Directory.GetFiles(root));
    }

    [Fact]
    public void FlushFolder_ExistingFolderOrMissingOne_FlushesTheFirstAndNamesTheSecond()
    {
        var missing = Path.Combine(root, "gone");

        AtomicFile.FlushFolder(root);
        var error = Assert.Throws<IOException>(() => AtomicFile.FlushFolder(missing));

        Assert.Contains(missing, error.Message, StringComparison.Ordinal);
    }
}
