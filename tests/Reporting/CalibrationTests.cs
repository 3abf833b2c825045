using DogsVsCats.Vision.Trainer.Reporting;

namespace DogsVsCats.Vision.Tests.Reporting;

[Trait("Category", "Fast")]
public sealed class CalibrationTests
{
    [Fact]
    public void Measure_PerfectlyCalibrated_EceIsZero()
    {
        // 10 photos at 0.8 with 8 right, 4 at 0.5 with 2 right: each bin's accuracy equals its confidence.
        var (p, truth) = Group(10, 0.8f, right: 8);
        var (p2, truth2) = Group(4, 0.5f, right: 2);

        var figures = Calibration.Measure([.. p, .. p2], [.. truth, .. truth2]);

        Assert.Equal(0, figures.ExpectedCalibrationError, 6);   // 0.8f is not exactly 0.8
        Assert.Equal(10.0 / 14, figures.Accuracy, 12);
    }

    [Fact]
    public void Measure_AllConfidentAndWrong_EceIsTheConfidenceAndNllItsComplement()
    {
        var (p, truth) = Group(20, 0.99f, right: 0);

        var figures = Calibration.Measure(p, truth);

        Assert.Equal(0.99, figures.ExpectedCalibrationError, 6);
        Assert.Equal(-Math.Log(1 - 0.99f), figures.LogLoss, 6);
        Assert.Equal(0, figures.Accuracy);
        Assert.Equal(20, figures.Bins[^1].Count);
    }

    [Fact]
    public void Measure_TwoBins_EceIsTheCountWeightedGap()
    {
        // Half at 0.9 with 60 % right (gap 0.3), half at 0.7 with 70 % right (gap 0): ECE = 0.5 * 0.3.
        var (p, truth) = Group(10, 0.9f, right: 6);
        var (p2, truth2) = Group(10, 0.7f, right: 7);

        var figures = Calibration.Measure([.. p, .. p2], [.. truth, .. truth2]);

        Assert.Equal(0.15, figures.ExpectedCalibrationError, 6);
        Assert.Equal(Calibration.DefaultBins, figures.Bins.Count);
        Assert.Equal(10, figures.Bins[(int)(0.9 * Calibration.DefaultBins)].Count);
        Assert.Equal(0.6, figures.Bins[(int)(0.9 * Calibration.DefaultBins)].Accuracy, 12);
    }

    [Fact]
    public void Measure_MinConfidence_CountsThoseBelowAndScoresThoseAtOrAbove()
    {
        // 4 below 0.75 (all wrong), 6 at exactly 0.75 (all right, the app labels them), 10 at 0.95 with 9 right.
        var (low, lowTruth) = Group(4, 0.7f, right: 0);
        var (edge, edgeTruth) = Group(6, 0.75f, right: 6);
        var (high, highTruth) = Group(10, 0.95f, right: 9);

        var figures = Calibration.Measure([.. low, .. edge, .. high], [.. lowTruth, .. edgeTruth, .. highTruth], minConfidence: 0.75);

        Assert.Equal(4.0 / 20, figures.FractionBelowMinConfidence, 12);
        Assert.Equal(15.0 / 16, figures.AccuracyAboveMinConfidence, 12);
    }

    [Theory]
    [InlineData(2.5)]
    [InlineData(0.7)]
    public void Untemper_ProbabilitiesOfLogitsOverT_GivesSoftmaxOfLogits(double temperature)
    {
        var random = new Random(7);
        for (var row = 0; row < 50; row++)
        {
            var logits = Enumerable.Range(0, 3).Select(_ => (random.NextDouble() - 0.5) * 12).ToArray();
            var tempered = Softmax(logits.Select(z => z / temperature)).Select(v => (float)v).ToArray();   // what a model file outputs

            var untempered = Calibration.Untemper(tempered, temperature);

            var expected = Softmax(logits);
            for (var c = 0; c < expected.Length; c++)
            {
                Assert.True(Math.Abs(expected[c] - untempered[c]) <= 1e-5, $"row {row} class {c}: {untempered[c]} vs {expected[c]}");
            }
        }
    }

    /// <summary>Two-class rows with top probability <paramref name="confidence"/> on class 0; the first <paramref name="right"/> are cats (right).</summary>
    private static (List<float[]> Probabilities, List<int> Truth) Group(int count, float confidence, int right) =>
        ([.. Enumerable.Range(0, count).Select(_ => new[] { confidence, 1 - confidence })],
         [.. Enumerable.Range(0, count).Select(i => i < right ? 0 : 1)]);

    private static double[] Softmax(IEnumerable<double> logits)
    {
        var z = logits.ToArray();
        var max = z.Max();
        var exp = z.Select(v => Math.Exp(v - max)).ToArray();
        return [.. exp.Select(e => e / exp.Sum())];
    }
}
