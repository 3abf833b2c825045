namespace DogsVsCats.Vision.Trainer.Selection;

/// <summary>
/// The one rule that names a run's winner, for the report and for what <c>--export winner</c> and <c>auto</c> export:
/// the single strategy with the lowest validation loss under the export's test-time augmentation; within
/// <see cref="LossTieTolerance"/> of it, the higher validation accuracy. A diverged strategy (NaN loss) never wins.
/// </summary>
internal static class WinnerRule
{
    public const double LossTieTolerance = 1e-9;

    /// <summary>The single strategies' figures, the winner first, then the others from the lowest loss up.</summary>
    public static IReadOnlyList<CandidateFigures> Rank(IReadOnlyList<CandidateFigures> singles)
    {
        if (singles.Count == 0)
        {
            throw new ArgumentException("There are no strategies to choose from.", nameof(singles));
        }

        var ordered = singles.OrderBy(Loss).ThenByDescending(f => f.Accuracy).ToList();
        var best = Loss(ordered[0]);
        // Every loss NaN: nothing is within the tolerance of infinity, and the first stands.
        var winner = ordered.Where(f => Ties(f, best)).MaxBy(f => f.Accuracy) ?? ordered[0];
        return [winner, .. ordered.Where(f => !ReferenceEquals(f, winner))];
    }

    /// <summary>Whether <paramref name="figures"/> ties on loss with <paramref name="loss"/> (so accuracy decides).</summary>
    public static bool Ties(CandidateFigures figures, double loss)
    {
        return Loss(figures) - loss <= LossTieTolerance;
    }

    private static double Loss(CandidateFigures figures) => double.IsNaN(figures.Loss) ? double.PositiveInfinity : figures.Loss;
}
