using DogsVsCats.Vision.Trainer.Export;
using DogsVsCats.Vision.Trainer.Models;
using DogsVsCats.Vision.Trainer.Reporting;
using DogsVsCats.Vision.Trainer.Run;
using DogsVsCats.Vision.Trainer.Selection;
using DogsVsCats.Vision.Trainer.Training;

namespace DogsVsCats.Vision.Tests.Training;

/// <summary>A run stopped after its strategies finished (during the export) and resumed: nothing trains again, the report covers them.</summary>
[Trait("Category", "Slow")]
public sealed class ResumeFinishedStrategiesTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void Resume_AfterEveryStrategyFinished_TrainsNothingAgainAndReportsTheirResults()
    {
        var request = new RunRequest
        {
            DataRoot = TestData.DogsVsCatsRoot,
            Strategy = "features",
            Backbone = BackboneSpec.Default with { ImageSize = 160 },
            LimitPerClass = 8,
            ValidationFraction = 0.25,
            OutputRoot = Path.Combine(_temp.Path, "runs"),
            Tta = TestTimeAugmentation.None,
            Export = ExportChoice.Winner,
            ReportPhotos = ReportPhotos.None,
        };
        var settings = new TrainingSettings { BatchSize = 8, Epochs = 2, CacheDirectory = Path.Combine(_temp.Path, "cache") };
        var (first, run) = TrainingRun.Execute(request, settings, new QuietProgress());
        Assert.Throws<ArgumentException>(() => RunFolder.ReadUnfinished(run));   // finished
        var strategy = Path.Combine(run, "features");
        Assert.False(File.Exists(Path.Combine(strategy, FitCheckpoint.FileName)), "a finished strategy's checkpoint should give way to its outcome");

        // What a kill during the export leaves: every strategy recorded, model.onnx written, no report, run not finished.
        RunFolder.Start(run, new RunRecord(first.Started, [], Finished: false));
        File.Delete(Path.Combine(run, ReportWriter.JsonFile));
        var epochsCsv = File.ReadAllText(Path.Combine(strategy, "epochs.csv"));
        var lines = new List<string>();
        var (second, resumed) = TrainingRun.Execute(request with { Resume = run }, settings, new QuietProgress(lines.Add));

        Assert.Equal(run, resumed);
        Assert.Contains(lines, l => l.StartsWith("features: finished in an earlier session", StringComparison.Ordinal));
        Assert.DoesNotContain(lines, l => l.StartsWith("features epoch", StringComparison.Ordinal));
        Assert.Equal(epochsCsv, File.ReadAllText(Path.Combine(strategy, "epochs.csv")));
        var (before, after) = (first.Strategies.Single(), second.Strategies.Single());
        Assert.Equal(before.Epochs, after.Epochs);
        Assert.Equal(before.ValidationLoss, after.ValidationLoss);
        Assert.Equal(first.Started, second.Started);
        Assert.True(File.Exists(Path.Combine(run, ReportWriter.JsonFile)));
        Assert.True(File.Exists(Path.Combine(run, TrainingRun.ModelFile)));
        Assert.Throws<ArgumentException>(() => RunFolder.ReadUnfinished(run));
    }
}
