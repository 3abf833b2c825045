namespace DogsVsCats.Vision.Trainer.Reporting;

/// <summary>Picks the strategy to ship: lowest validation loss; within 1e-9 of it, the higher validation accuracy.</summary>
public static class WinnerSelection
{
    private const double LossTieTolerance = 1e-9;

    public static (string Winner, string Reason) Choose(IReadOnlyList<StrategyResult> results)
    {
        ArgumentNullException.ThrowIfNull(results);
        if (results.Count == 0)
        {
            throw new ArgumentException("There are no strategy results to choose from.", nameof(results));
        }

        // A diverged run (NaN loss) must never win, so NaN sorts as the worst loss.
        static double Loss(StrategyResult r) => double.IsNaN(r.ValidationLoss) ? double.PositiveInfinity : r.ValidationLoss;

        var bestLoss = results.Min(Loss);
        var winner = results.Where(r => Loss(r) - bestLoss <= LossTieTolerance).MaxBy(r => r.ValidationAccuracy)!;
        if (results.Count == 1)
        {
            return (winner.Strategy, $"'{winner.Strategy}' was the only strategy run: validation loss {winner.ValidationLoss:F4}, validation accuracy {Percent(winner.ValidationAccuracy)}.");
        }

        var runnerUp = results.Where(r => !ReferenceEquals(r, winner)).OrderBy(Loss).ThenByDescending(r => r.ValidationAccuracy).First();
        var margin = Loss(runnerUp) - Loss(winner);
        if (margin <= LossTieTolerance)
        {
            return (winner.Strategy,
                $"'{winner.Strategy}' and '{runnerUp.Strategy}' tie on validation loss ({winner.ValidationLoss:F6}, within {LossTieTolerance:G}); " +
                $"'{winner.Strategy}' wins on validation accuracy, {Percent(winner.ValidationAccuracy)} against {Percent(runnerUp.ValidationAccuracy)}.");
        }

        return (winner.Strategy,
            $"'{winner.Strategy}' has the lowest validation loss, {winner.ValidationLoss:F4} (accuracy {Percent(winner.ValidationAccuracy)}), " +
            $"{margin:F4} below the runner-up '{runnerUp.Strategy}' at {runnerUp.ValidationLoss:F4} (accuracy {Percent(runnerUp.ValidationAccuracy)}).");
    }

    private static string Percent(double fraction) => $"{fraction * 100:F2} %";
}
