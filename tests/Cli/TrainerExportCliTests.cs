using DogsVsCats.Vision.Shared;
using DogsVsCats.Vision.Tests.Fixtures;
using DogsVsCats.Vision.Trainer.Cli;
using Microsoft.ML.OnnxRuntime;

namespace DogsVsCats.Vision.Tests.Cli;

/// <summary><c>trainer export</c> run as a user runs it (a separate process) on the small training run's checkpoints.</summary>
[Collection(SmallRunGroup.Name)]
[Trait("Category", "Slow")]
public sealed class TrainerExportCliTests(SmallRunFixture run)
{
    private string Checkpoint => run.Strategy(run.Report.Winner).CheckpointPath;

    [Fact]
    public void Export_Checkpoint_WritesTheModelAndRefusesToOverwriteUnlessForced()
    {
        using var folder = new TempDirectory();
        var target = Path.Combine(folder.Path, "exported.onnx");

        var (code, output, error) = TrainerCliTests.Trainer("export", "--checkpoint", Checkpoint, "--out", target);

        Assert.True(code == ExitCodes.Ok, $"exit {code}: {error}");
        Assert.Contains($"Exported {target}", output, StringComparison.Ordinal);
        using (var session = new InferenceSession(target))
        {
            var metadata = ModelDescription.FromProperties(session.ModelMetadata.CustomMetadataMap, target);
            Assert.Equal(run.Report.Winner, metadata.Strategy);
            Assert.Equal(run.Report.Dataset.Classes, metadata.Labels);
        }

        File.WriteAllText(target, "a file the user keeps");
        (code, _, error) = TrainerCliTests.Trainer("export", "--checkpoint", Checkpoint, "--out", target);
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains("--force", error, StringComparison.Ordinal);
        Assert.Equal("a file the user keeps", File.ReadAllText(target));

        (code, _, error) = TrainerCliTests.Trainer("export", "--checkpoint", Checkpoint, "--out", target, "--force");
        Assert.True(code == ExitCodes.Ok, $"exit {code}: {error}");
        Assert.True(new FileInfo(target).Length > 40_000_000);
        Assert.Equal([target], Directory.GetFiles(folder.Path));   // no temporary file left beside it
    }

    [Fact]
    public void Export_HeadOnlyCheckpoint_ExitsTwoNamingTheFullModel()
    {
        using var folder = new TempDirectory();
        var headOnly = Path.Combine(run.RunDirectory, "features", "best.pt");

        var (code, _, error) = TrainerCliTests.Trainer("export", "--checkpoint", headOnly, "--out", Path.Combine(folder.Path, "model.onnx"));

        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains("features/model.pt", error, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(folder.Path));
    }
}
