namespace DogsVsCats.Vision.Trainer.Selection;

/// <summary>A 95 % interval (2.5th to 97.5th percentile of the bootstrap means).</summary>
internal sealed record Interval(double Low, double High)
{
    public bool Contains(double value) => Low <= value && value <= High;
}

/// <summary>One candidate's per-photo log losses and hits (1 right, 0 wrong), the same photos in the same order for every candidate.</summary>
internal sealed record PerPhotoScores(string Name, double[] Losses, double[] Correct);

/// <summary>A candidate's validation loss and accuracy with their bootstrap intervals.</summary>
internal sealed record BootstrapRow(string Name, double Loss, Interval LossInterval, double Accuracy, Interval AccuracyInterval);

/// <summary>First minus second: the point difference and its interval; inside noise when the interval holds 0.</summary>
internal sealed record BootstrapDifference(string First, string Second, double Loss, Interval LossInterval, double Accuracy, Interval AccuracyInterval)
{
    public bool LossWithinNoise => LossInterval.Contains(0);
}

/// <summary>
/// Paired bootstrap over validation photos: every resample draws the same photos for every candidate, so a difference
/// between two candidates is measured on the same draws (its interval is much narrower than the two intervals suggest).
/// </summary>
internal sealed class PairedBootstrap
{
    public const int DefaultResamples = 2000;

    private readonly IReadOnlyList<PerPhotoScores> candidates;
    private readonly int[][] draws;

    public PairedBootstrap(IReadOnlyList<PerPhotoScores> candidates, int resamples = DefaultResamples, int seed = 42)
    {
        if (candidates.Count == 0 || candidates.Any(c => c.Losses.Length != candidates[0].Losses.Length || c.Correct.Length != c.Losses.Length) || candidates[0].Losses.Length == 0)
        {
            throw new ArgumentException("The bootstrap needs candidates scored on the same, non-empty set of photos.", nameof(candidates));
        }

        this.candidates = candidates;
        var n = candidates[0].Losses.Length;
        var random = new Random(seed);
        draws = [.. Enumerable.Range(0, resamples).Select(_ => Enumerable.Range(0, n).Select(_ => random.Next(n)).ToArray())];
    }

    public int Resamples => draws.Length;

    public BootstrapRow Row(string name)
    {
        var c = Find(name);
        return new BootstrapRow(name, c.Losses.Average(), Percentiles(Means(c.Losses)), c.Correct.Average(), Percentiles(Means(c.Correct)));
    }

    public BootstrapDifference Difference(string first, string second)
    {
        var (a, b) = (Find(first), Find(second));
        var loss = a.Losses.Zip(b.Losses, (x, y) => x - y).ToArray();
        var correct = a.Correct.Zip(b.Correct, (x, y) => x - y).ToArray();
        return new BootstrapDifference(first, second, loss.Average(), Percentiles(Means(loss)), correct.Average(), Percentiles(Means(correct)));
    }

    private PerPhotoScores Find(string name) =>
        candidates.SingleOrDefault(c => c.Name == name) ?? throw new ArgumentException($"No candidate '{name}' in the bootstrap.", nameof(name));

    private double[] Means(double[] values) => [.. draws.Select(draw => draw.Sum(i => values[i]) / draw.Length)];

    private static Interval Percentiles(double[] means)
    {
        Array.Sort(means);
        double At(double q) => means[(int)Math.Clamp(Math.Round(q * (means.Length - 1)), 0, means.Length - 1)];
        return new Interval(At(0.025), At(0.975));
    }
}
