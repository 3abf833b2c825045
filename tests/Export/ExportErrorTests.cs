using DogsVsCats.Vision.Tests.Fixtures;
using DogsVsCats.Vision.Trainer.Export;
using DogsVsCats.Vision.Trainer.Run;

namespace DogsVsCats.Vision.Tests.Export;

[Collection(SmallRunGroup.Name)]
[Trait("Category", "Slow")]
public sealed class ExportErrorTests(SmallRunFixture run) : IDisposable
{
    private readonly string folder = TestData.NewTempDirectory();

    private string Checkpoint => run.Strategy(run.Report.Winner).CheckpointPath;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    [Fact]
    public void Export_ExistingFile_LeftUntouchedUnlessForced()
    {
        var target = Path.Combine(folder, "model.onnx");
        File.WriteAllText(target, "a file the user keeps");

        var error = Assert.Throws<ExportException>(() => ModelExporter.ExportCheckpoint(Checkpoint, target, overwrite: false));

        Assert.Contains("--force", error.Message, StringComparison.Ordinal);
        Assert.Equal("a file the user keeps", File.ReadAllText(target));
        ModelExporter.ExportCheckpoint(Checkpoint, target, overwrite: true);
        Assert.True(new FileInfo(target).Length > 40_000_000);
        Assert.Equal([target], Directory.GetFiles(folder));   // no temporary file left beside it
    }

    [Fact]
    public void Quantize_ExistingFile_RefusedLikeAnExport()
    {
        var target = Path.Combine(folder, "model.int8.onnx");
        File.WriteAllText(target, "a file the user keeps");
        var photos = new[] { new byte[224 * 224 * 3] };

        var error = Assert.Throws<ExportException>(() => Int8Quantizer.QuantizeFile(Path.Combine(run.RunDirectory, TrainingRun.ModelFile), photos, target, overwrite: false, new QuantizationSettings()));

        Assert.Contains("--force", error.Message, StringComparison.Ordinal);
        Assert.Equal("a file the user keeps", File.ReadAllText(target));
        Assert.Equal([target], Directory.GetFiles(folder));
    }

    [Fact]
    public void Export_UnwritablePath_ClearErrorAndNoFile()
    {
        var blocker = Path.Combine(folder, "not-a-folder");
        File.WriteAllText(blocker, "x");
        var target = Path.Combine(blocker, "model.onnx");

        var error = Assert.Throws<ExportException>(() => ModelExporter.ExportCheckpoint(Checkpoint, target, overwrite: false));

        Assert.Contains(blocker, error.Message, StringComparison.Ordinal);
        Assert.Equal([blocker], Directory.GetFiles(folder));
    }

    [Fact]
    public void Export_CheckpointOfOtherArchitecture_SaysItDoesNotMatch()
    {
        var copy = Path.Combine(folder, "best.pt");
        File.Copy(Checkpoint, copy);
        var info = CheckpointInfo.Load(Checkpoint);
        CheckpointInfo.Save(info with { Labels = ["cat", "dog", "fox"] }, copy);

        var error = Assert.Throws<ExportException>(() => ModelExporter.ExportCheckpoint(copy, Path.Combine(folder, "model.onnx"), overwrite: false));

        Assert.Contains("does not match", error.Message, StringComparison.Ordinal);
        Assert.Contains("3 classes", error.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(folder, "model.onnx")));
    }

    [Fact]
    public void Export_CheckpointWithoutDescription_SaysWhatIsMissing()
    {
        var copy = Path.Combine(folder, "best.pt");
        File.Copy(Checkpoint, copy);

        var error = Assert.Throws<ExportException>(() => ModelExporter.ExportCheckpoint(copy, Path.Combine(folder, "model.onnx"), overwrite: false));

        Assert.Contains("best.pt.json", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Export_MissingCheckpoint_SaysWhichFile()
    {
        var missing = Path.Combine(folder, "nothing.pt");

        var error = Assert.Throws<ExportException>(() => ModelExporter.ExportCheckpoint(missing, Path.Combine(folder, "model.onnx"), overwrite: false));

        Assert.Contains(missing, error.Message, StringComparison.Ordinal);
    }
}
