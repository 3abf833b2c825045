using DogsVsCats.Vision.Tests.Fixtures;
using DogsVsCats.Vision.Trainer.Export;
using DogsVsCats.Vision.Trainer.Reporting;
using DogsVsCats.Vision.Trainer.Run;
using DogsVsCats.Vision.Trainer.Strategies;
using DogsVsCats.Vision.Trainer.Training;

namespace DogsVsCats.Vision.Tests.Reporting;

/// <summary>The mirrored validation pass runs for <c>--tta flip</c> only, and the report claims flip figures only when it ran.</summary>
[Collection(SmallRunGroup.Name)]
[Trait("Category", "Slow")]
public sealed class MirroredPassTests(SmallRunFixture run)
{
    private const string PassLine = "Mirrored validation:";

    [Fact]
    public void Train_TtaNone_SkipsTheMirroredPassAndMeasuresOnlyPlainCandidates()
    {
        // The shared run trains every strategy with --tta none.
        Assert.DoesNotContain(run.Log, line => line.StartsWith(PassLine, StringComparison.Ordinal));
        Assert.Contains(run.Log, line => line.StartsWith("Mirrored validation pass skipped (--tta none)", StringComparison.Ordinal));

        var selection = run.Report.Selection!;
        Assert.False(selection.FlipMeasured);
        Assert.All(selection.Candidates, c => Assert.Equal(TestTimeAugmentation.None, c.Tta));
        Assert.Equal(StrategyRegistry.Plan(StrategyRegistry.All).Count + 1, selection.Candidates.Count);   // + the ensemble
        Assert.Null(selection.FlipVsNone);
        Assert.NotNull(selection.EnsembleVsWinner);
        Assert.Equal(TestTimeAugmentation.None, selection.Tta);

        var md = File.ReadAllText(Path.Combine(run.RunDirectory, ReportWriter.MarkdownFile));
        Assert.Contains("Flip candidates were not measured because `--tta none`", md, StringComparison.Ordinal);
        Assert.DoesNotContain("| flip |", md, StringComparison.Ordinal);
    }

    [Fact]
    public void Train_TtaFlip_RunsTheMirroredPassAndMeasuresBothViews()
    {
        // features from the shared run's cache: seconds; the mirrored pass is the only forward through the backbone.
        var log = new List<string>();
        var settings = new TrainingSettings { BatchSize = SmallRunFixture.BatchSize, Epochs = 1, CacheDirectory = run.CacheDirectory };
        var request = run.Request(FeaturesStrategy.StrategyName, "runs-flip") with { Tta = TestTimeAugmentation.Flip, ReportPhotos = ReportPhotos.None };
        var (report, directory) = TrainingRun.Execute(request, settings, new QuietProgress(log.Add));

        Assert.Single(log, line => line.StartsWith(PassLine, StringComparison.Ordinal));
        var selection = report.Selection!;
        Assert.True(selection.FlipMeasured);
        Assert.Equal([TestTimeAugmentation.None, TestTimeAugmentation.Flip], selection.Candidates.Select(c => c.Tta));
        Assert.NotNull(selection.FlipVsNone);
        Assert.Equal(TestTimeAugmentation.Flip, selection.Tta);
        Assert.Equal(selection.Winner, report.Winner);
        var md = File.ReadAllText(Path.Combine(directory, ReportWriter.MarkdownFile));
        Assert.DoesNotContain("not measured", md, StringComparison.Ordinal);
    }
}
