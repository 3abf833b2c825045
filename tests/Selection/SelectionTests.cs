using DogsVsCats.Vision.Shared;
using DogsVsCats.Vision.Trainer.Export;
using DogsVsCats.Vision.Trainer.Results;
using DogsVsCats.Vision.Trainer.Run;
using DogsVsCats.Vision.Trainer.Selection;
using DogsVsCats.Vision.Trainer.Strategies;
using DogsVsCats.Vision.Trainer.Training;

namespace DogsVsCats.Vision.Tests.Selection;

/// <summary>The paired bootstrap, the temperature fit and the export rule, on synthetic per-photo figures.</summary>
[Trait("Category", "Fast")]
public sealed class SelectionTests
{
    private const int Photos = 600;

    [Fact]
    public void Bootstrap_ClearDifference_IsOutsideNoise()
    {
        var random = new Random(1);
        var a = Losses(random, 0.03);
        var b = a.Select(l => l + 0.02 + (0.005 * random.NextDouble())).ToArray();   // b is worse on every photo
        var bootstrap = new PairedBootstrap([Scores("a", a), Scores("b", b)]);

        var difference = bootstrap.Difference("a", "b");

        Assert.False(difference.LossWithinNoise);
        Assert.True(difference.LossInterval.High < 0, $"interval [{difference.LossInterval.Low}, {difference.LossInterval.High}]");
        Assert.Equal(a.Average() - b.Average(), difference.Loss, 12);
    }

    [Fact]
    public void Bootstrap_IdenticalCandidates_AreWithinNoise()
    {
        var a = Losses(new Random(2), 0.03);
        var bootstrap = new PairedBootstrap([Scores("a", a), Scores("b", [.. a])]);

        var difference = bootstrap.Difference("a", "b");

        Assert.True(difference.LossWithinNoise);
        Assert.Equal(new Interval(0, 0), difference.LossInterval);
    }

    [Fact]
    public void Bootstrap_Interval_HoldsThePointEstimateAndIsSeeded()
    {
        var a = Losses(new Random(3), 0.03);
        var first = new PairedBootstrap([Scores("a", a)], seed: 7).Row("a");
        var again = new PairedBootstrap([Scores("a", a)], seed: 7).Row("a");

        Assert.True(first.LossInterval.Contains(first.Loss));
        Assert.True(first.LossInterval.High - first.LossInterval.Low > 0.001, "a 600-photo log loss has a visible interval");
        Assert.Equal(first, again);
    }

    [Theory]
    [InlineData(0.5)]
    [InlineData(2)]
    [InlineData(4)]
    public void Temperature_CalibratedLogitsScaledByAKnownFactor_FitsThatFactor(double factor)
    {
        // Enough photos that the calibrated set's own fit is 1 within sampling noise.
        var calibrated = Predictions(new Random(4), scale: 1, count: 5_000);
        var scaled = new ValidationPredictions([.. calibrated.Logits.Select(l => (float)(l * factor))], 2, calibrated.Truth, calibrated.Paths);

        var own = TemperatureScaling.Fit(new PredictionCandidate("calibrated", TestTimeAugmentation.None, [calibrated])).Temperature;
        var fit = TemperatureScaling.Fit(new PredictionCandidate("scaled", TestTimeAugmentation.None, [scaled]));

        Assert.InRange(own, 0.95, 1.05);
        // The loss at T of logits times k is the loss at T / k of the logits: the fit gives k times the set's own, exactly.
        Assert.Equal(factor * own, fit.Temperature, factor * own * 1e-5);
        Assert.True(fit.LossAfter < fit.LossBefore - 0.01, $"loss {fit.LossBefore} -> {fit.LossAfter}");
        Assert.True(fit.CrossFittedLoss < fit.LossBefore, $"cross-fitted {fit.CrossFittedLoss} vs {fit.LossBefore}");
        Assert.True(fit.Kept);
    }

    [Fact]
    public void Temperature_EveryPhotoRight_RunsToTheRangesEndAndIsNotKept()
    {
        var truth = Enumerable.Range(0, Photos).Select(i => i % 2).ToArray();
        var logits = truth.SelectMany(t => t == 0 ? new[] { 1f, -1f } : [-1f, 1f]).ToArray();
        var separated = new ValidationPredictions(logits, 2, truth, [.. truth.Select((_, i) => $"photo{i}.jpg")]);

        var fit = TemperatureScaling.Fit(new PredictionCandidate("x", TestTimeAugmentation.None, [separated]));

        Assert.True(fit.Temperature < TemperatureScaling.MinTemperature * 1.01, $"T = {fit.Temperature}");
        Assert.True(fit.CrossFittedLoss < fit.LossBefore);
        Assert.False(fit.Kept);
        Assert.Equal(1, fit.Applied);
    }

    [Fact]
    public void Choose_Ensemble_AveragesEveryStrategyAndFlip()
    {
        var random = new Random(5);
        var plain = new Dictionary<string, ValidationPredictions> { ["frozen"] = Predictions(random, 1), ["features"] = Predictions(random, 1) };
        var mirrored = new Dictionary<string, ValidationPredictions> { ["frozen"] = Predictions(random, 1), ["features"] = Predictions(random, 1) };

        var (report, chosen) = ExportSelection.Choose(plain, mirrored, TestTimeAugmentation.Flip, ExportChoice.Ensemble);

        Assert.Equal(ExportSelection.Ensemble, report.Exported);
        Assert.Equal(["frozen", "features"], report.Members);
        Assert.Equal(4, chosen.Views.Count);
        Assert.Equal(6, report.Candidates.Count);   // 2 strategies + ensemble, with and without the mirror
        Assert.NotNull(report.EnsembleVsWinner);
        Assert.Equal(("ensemble (flip)", "ensemble (none)"), (report.FlipVsNone!.First, report.FlipVsNone.Second));
    }

    [Fact]
    public void Choose_Winner_IsTheLowestLossUnderTheExportsTta()
    {
        var random = new Random(6);
        var good = Predictions(random, 1);
        var bad = new ValidationPredictions([.. good.Logits.Select(l => -l)], 2, good.Truth, good.Paths);   // every answer flipped
        var plain = new Dictionary<string, ValidationPredictions> { ["frozen"] = bad, ["features"] = good };

        var (report, chosen) = ExportSelection.Choose(plain, null, TestTimeAugmentation.None, ExportChoice.Winner);

        Assert.Equal("features", report.Exported);
        Assert.Same(good, Assert.Single(chosen.Views));
        Assert.False(report.WinnerVsRunnerUp!.LossWithinNoise);
        Assert.Throws<ArgumentException>(() => ExportSelection.Choose(plain, null, TestTimeAugmentation.None, ExportChoice.Of("finetune")));
    }

    [Fact]
    public void Rank_LowestValidationLoss_WinsThenTheRestByLoss()
    {
        var ranked = WinnerRule.Rank([Figures("linear", 0.20, 0.95), Figures("finetune", 0.15, 0.94), Figures("scratch", 0.60, 0.70)]);

        Assert.Equal(["finetune", "linear", "scratch"], ranked.Select(f => f.Name));
    }

    [Fact]
    public void Rank_LossTiedWithinTolerance_HigherAccuracyWins()
    {
        var ranked = WinnerRule.Rank([Figures("a", 0.2, 0.90), Figures("b", 0.2 + 1e-12, 0.93)]);

        Assert.Equal(["b", "a"], ranked.Select(f => f.Name));
        Assert.True(WinnerRule.Ties(ranked[1], ranked[0].Loss));
    }

    [Fact]
    public void Rank_NaNLoss_NeverWins()
    {
        Assert.Equal("ok", WinnerRule.Rank([Figures("diverged", double.NaN, 0.5), Figures("ok", 3.0, 0.6)])[0].Name);
        Assert.Equal("first", WinnerRule.Rank([Figures("first", double.NaN, 0.5), Figures("second", double.NaN, 0.5)])[0].Name);
    }

    [Fact]
    public void Choose_PlainAndFlipWinnersDiffer_TheReportsWinnerIsTheOneUnderTheExportsTtaAndIsExported()
    {
        // features is the better plain model, but its mirrored pass is always wrong: under flip, frozen wins.
        var random = new Random(8);
        var good = Predictions(random, 1);
        var fair = Predictions(random, 0.5);
        var wrong = new ValidationPredictions([.. good.Logits.Select(l => -l)], 2, good.Truth, good.Paths);
        var plain = new Dictionary<string, ValidationPredictions> { ["frozen"] = fair, ["features"] = good };
        var mirrored = new Dictionary<string, ValidationPredictions> { ["frozen"] = fair, ["features"] = wrong };

        var (report, _) = ExportSelection.Choose(plain, mirrored, TestTimeAugmentation.Flip, ExportChoice.Winner);
        var (plainReport, _) = ExportSelection.Choose(plain, null, TestTimeAugmentation.None, ExportChoice.Winner);

        Assert.Equal(("frozen", "frozen"), (report.Winner, report.Exported));
        Assert.StartsWith("Lowest single-strategy validation loss (test-time augmentation flip): frozen", report.Reason, StringComparison.Ordinal);
        Assert.Equal(("features", "features"), (plainReport.Winner, plainReport.Exported));
    }

    [Fact]
    public void Choose_Auto_EnsembleOnlyWhenItsLossIsBelowTheWinners()
    {
        var random = new Random(7);
        var good = Predictions(random, 1);
        var bad = new ValidationPredictions([.. good.Logits.Select(l => -l)], 2, good.Truth, good.Paths);   // every answer flipped

        // A member that is always wrong drags the mean down: the winner alone is exported.
        var (losing, losingChoice) = ExportSelection.Choose(new Dictionary<string, ValidationPredictions> { ["frozen"] = bad, ["features"] = good }, null, TestTimeAugmentation.None, ExportChoice.Auto);
        Assert.Equal("features", losing.Exported);
        Assert.Same(good, Assert.Single(losingChoice.Views));
        Assert.True(losing.EnsembleVsWinner!.Loss > 0);

        // Two models that err on different photos: their mean has the lower loss, and is exported.
        var (winning, winningChoice) = ExportSelection.Choose(new Dictionary<string, ValidationPredictions> { ["frozen"] = Predictions(random, 1), ["features"] = Predictions(random, 1) }, null, TestTimeAugmentation.None, ExportChoice.Auto);
        Assert.True(winning.EnsembleVsWinner!.Loss < 0, $"ensemble - winner = {winning.EnsembleVsWinner.Loss}");
        Assert.Equal(ExportSelection.Ensemble, winning.Exported);
        Assert.NotEqual(winning.Exported, winning.Winner);   // the report names both: the winner, and the ensemble exported instead
        Assert.Equal(2, winningChoice.Views.Count);
    }

    [Fact]
    public void Check_ExportOfAStrategyNotInThePlan_FailsBeforeTrainingNamingTheChoices()
    {
        var error = Assert.Throws<ArgumentException>(() => ModelChoice.Check(ExportChoice.Parse("frozen"), StrategyRegistry.Plan("features")));

        Assert.Contains("auto, winner, ensemble, features", error.Message, StringComparison.Ordinal);
        ModelChoice.Check(ExportChoice.Parse("features"), StrategyRegistry.Plan("finetune"));   // finetune runs features first
        ModelChoice.Check(ExportChoice.Parse("winner"), StrategyRegistry.Plan("features"));
    }

    [Theory]
    [InlineData("auto", ExportKind.Auto, null)]
    [InlineData("winner", ExportKind.Winner, null)]
    [InlineData("ensemble", ExportKind.Ensemble, null)]
    [InlineData("features", ExportKind.Strategy, "features")]
    [InlineData("Winner", ExportKind.Strategy, "Winner")]
    internal void ExportChoice_Parse_KindOrStrategyAndBackToItsText(string text, ExportKind kind, string? strategy)
    {
        var choice = ExportChoice.Parse(text);

        Assert.Equal((kind, strategy), (choice.Kind, choice.Strategy));
        Assert.Equal(text, choice.ToString());
    }

    [Fact]
    public void TestTimeAugmentations_Parse_ContractTextOnly()
    {
        Assert.Equal(TestTimeAugmentation.Flip, TestTimeAugmentations.Parse(ModelContract.TtaModes.Flip));
        Assert.Equal(TestTimeAugmentation.None, TestTimeAugmentations.Parse(TestTimeAugmentation.None.Name()));
        var error = Assert.Throws<ExportException>(() => TestTimeAugmentations.Parse("rotate"));
        Assert.Contains("none or flip", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Execute_Int8WithAnEnsemble_FailsBeforeReadingAPhoto()
    {
        var request = new RunRequest { DataRoot = Path.Combine(Path.GetTempPath(), "no-such-folder-" + Guid.NewGuid().ToString("N")), WriteInt8Model = true, Export = ExportChoice.Ensemble };

        var error = Assert.Throws<ArgumentException>(() => TrainingRun.Execute(request, new TrainingSettings(), new QuietProgress()));

        Assert.Contains("--int8", error.Message, StringComparison.Ordinal);
        Assert.Contains("--export auto or winner", error.Message, StringComparison.Ordinal);
    }

    private static CandidateFigures Figures(string name, double loss, double accuracy) =>
        new(name, TestTimeAugmentation.None, loss, new Interval(loss, loss), accuracy, new Interval(accuracy, accuracy));

    private static double[] Losses(Random random, double mean) => [.. Enumerable.Range(0, Photos).Select(_ => -mean * Math.Log(1 - random.NextDouble()))];

    private static PerPhotoScores Scores(string name, double[] losses) => new(name, losses, [.. losses.Select(l => l < Math.Log(2) ? 1.0 : 0.0)]);

    /// <summary>Two-class logits drawn so that p(truth) = sigmoid(margin) is calibrated at <paramref name="scale"/> = 1.</summary>
    private static ValidationPredictions Predictions(Random random, double scale, int count = Photos)
    {
        var truth = Enumerable.Range(0, count).Select(i => i % 2).ToArray();
        var logits = new float[count * 2];
        for (var i = 0; i < count; i++)
        {
            var margin = 2 + (1.5 * Normal(random));
            var right = 1 / (1 + Math.Exp(-margin)) > random.NextDouble();   // right with the probability the margin claims
            logits[(i * 2) + truth[i]] = (float)(scale * (right ? margin : -margin) / 2);
            logits[(i * 2) + (1 - truth[i])] = (float)(-scale * (right ? margin : -margin) / 2);
        }

        return new ValidationPredictions(logits, 2, truth, [.. Enumerable.Range(0, count).Select(i => $"photo{i}.jpg")]);
    }

    private static double Normal(Random random) => Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
