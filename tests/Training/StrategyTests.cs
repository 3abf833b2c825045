using DogsVsCats.Vision.Trainer.Models;
using DogsVsCats.Vision.Trainer.Reporting;
using DogsVsCats.Vision.Trainer.Strategies;
using DogsVsCats.Vision.Trainer.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace DogsVsCats.Vision.Tests.Training;

/// <summary>
/// Runs <c>trainer train --strategy all</c> once, for seconds, on 24 + 24 real photos (8 + 8 for validation),
/// and shares the run with the tests below.
/// </summary>
public sealed class SmallRunFixture : IDisposable
{
    public SmallRunFixture()
    {
        Directory = TestData.NewTempDirectory();
        var request = new RunRequest
        {
            DataRoot = TestData.DogsVsCatsRoot,
            Strategy = StrategyNames.All,
            LimitPerClass = 24,
            ValidationFraction = 0.25,
            OutputRoot = Path.Combine(Directory, "runs"),
        };
        var settings = new TrainingSettings
        {
            BatchSize = 8,
            Epochs = 3,
            Patience = 3,
            CacheDirectory = Path.Combine(Directory, "cache"),
        };
        (Report, RunDirectory) = TrainingRun.Execute(request, settings, new QuietProgress(Log.Add));
    }

    public string Directory { get; }

    public RunReport Report { get; }

    public string RunDirectory { get; }

    public List<string> Log { get; } = [];

    public StrategyResult Strategy(string name) => Report.Strategies.Single(s => s.Strategy == name);

    public void Dispose() => System.IO.Directory.Delete(Directory, recursive: true);
}

[CollectionDefinition(Name)]
public sealed class SmallRunGroup : ICollectionFixture<SmallRunFixture>
{
    public const string Name = "small training run";
}

[Collection(SmallRunGroup.Name)]
public sealed class StrategyTests(SmallRunFixture run)
{
    [Theory]
    [InlineData(StrategyNames.Frozen)]
    [InlineData(StrategyNames.Features)]
    [InlineData(StrategyNames.Finetune)]
    public void Strategy_SmallRealSubset_LossFallsAndAccuracyBeatsChance(string name)
    {
        var result = run.Strategy(name);
        Assert.Equal(3, result.Epochs.Count);
        Assert.True(result.Epochs[^1].TrainLoss < result.Epochs[0].TrainLoss, $"{name}: train loss {result.Epochs[0].TrainLoss:F4} -> {result.Epochs[^1].TrainLoss:F4} did not fall");
        Assert.True(result.ValidationAccuracy > 0.75, $"{name}: validation accuracy {result.ValidationAccuracy:P1} is not above 75 %");
        Assert.True(result.ValidationLoss < Math.Log(2), $"{name}: validation loss {result.ValidationLoss:F4} is no better than chance (ln 2)");
        Assert.Equal(result.Epochs.Min(e => e.ValidationLoss), result.ValidationLoss, 5);
    }

    [Fact]
    public void Frozen_AfterTraining_BackboneIdenticalToPretrained()
    {
        var changed = ChangedBackboneTensors(run.Strategy(StrategyNames.Frozen).CheckpointPath);
        Assert.Empty(changed);
        Assert.True(run.Strategy(StrategyNames.Frozen).FrozenParameters > 10_000_000);
        Assert.Equal(512 * 2 + 2, run.Strategy(StrategyNames.Frozen).TrainableParameters);
    }

    [Fact]
    public void Finetune_AfterTraining_OnlyLastStageChanged()
    {
        var changed = ChangedBackboneTensors(run.Strategy(StrategyNames.Finetune).CheckpointPath);
        Assert.NotEmpty(changed);
        Assert.All(changed, name => Assert.StartsWith("backbone.layer4.", name, StringComparison.Ordinal));
        // Whole blocks: every convolution of every layer4 block moved (3 in the first block with its shortcut, 2 in each other).
        var layer4Convolutions = changed.Where(n => n.EndsWith(".weight", StringComparison.Ordinal) && (n.Contains(".conv", StringComparison.Ordinal) || n.Contains("downsample.0", StringComparison.Ordinal))).ToList();
        Assert.Equal(7, layer4Convolutions.Count);
    }

    [Fact]
    public void Finetune_StartsFromFeaturesHead_LogsAccuracyBeforeAndAfterLoading()
    {
        var note = Assert.Single(run.Strategy(StrategyNames.Finetune).Notes, n => n.Contains("after loading the features head", StringComparison.Ordinal));
        Assert.Contains("with a fresh head", note, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_Always_WritesReportCheckpointsCsvAndTensorBoard()
    {
        foreach (var file in new[] { "report.md", "report.json", "loss_curves.png", "confusion_matrix.png", "model.onnx" })
        {
            Assert.True(File.Exists(Path.Combine(run.RunDirectory, file)), file);
        }

        foreach (var strategy in StrategyNames.Plan(StrategyNames.All))
        {
            var folder = Path.Combine(run.RunDirectory, strategy);
            Assert.True(File.Exists(Path.Combine(folder, "best.pt")), $"{strategy}/best.pt");
            Assert.Equal(1 + 3, File.ReadAllLines(Path.Combine(folder, "epochs.csv")).Length);
            Assert.NotEmpty(System.IO.Directory.GetFiles(Path.Combine(folder, "tensorboard"), "events.out.tfevents.*"));
        }

        Assert.Contains(run.Report.Winner, StrategyNames.Plan(StrategyNames.All));
        var best = run.Report.Strategies.MinBy(s => s.ValidationLoss)!;
        Assert.Equal(best.Strategy, run.Report.Winner);
    }

    [Fact]
    public void Features_SecondRun_ReadsCacheInsteadOfExtracting()
    {
        var first = run.Strategy(StrategyNames.Features);
        Assert.Contains(first.Notes, n => n.Contains("extracted and cached", StringComparison.Ordinal));
        var request = new RunRequest
        {
            DataRoot = TestData.DogsVsCatsRoot,
            Strategy = StrategyNames.Features,
            LimitPerClass = 24,
            ValidationFraction = 0.25,
            OutputRoot = Path.Combine(run.Directory, "runs-again"),
        };
        var settings = new TrainingSettings { BatchSize = 8, Epochs = 1, CacheDirectory = Path.Combine(run.Directory, "cache") };
        var (report, _) = TrainingRun.Execute(request, settings, new QuietProgress());
        var again = Assert.Single(report.Strategies);
        Assert.Equal(2, again.Notes.Count(n => n.Contains("read from cache", StringComparison.Ordinal)));
    }

    private static List<string> ChangedBackboneTensors(string checkpoint) => BackboneChanges.InCheckpoint(BackboneSpec.Default, 2, checkpoint);
}
