using DogsVsCats.Vision.Trainer.Export;
using DogsVsCats.Vision.Trainer.Results;

namespace DogsVsCats.Vision.Trainer.Selection;

/// <summary>One candidate's validation figures with their paired-bootstrap 95 % intervals.</summary>
internal sealed record CandidateFigures(string Name, TestTimeAugmentation Tta, double Loss, Interval LossInterval, double Accuracy, Interval AccuracyInterval);

/// <summary>
/// The run's winner (<see cref="WinnerRule"/>) and what was exported and why, with the figures behind it: every strategy and the ensemble, without the mirrored pass
/// and (when it was measured) with it; the winner against the runner-up; the temperature. Small: no per-photo arrays.
/// </summary>
internal sealed record SelectionReport(
    IReadOnlyList<CandidateFigures> Candidates,
    TestTimeAugmentation Tta,
    string Export,
    string Winner,
    string Exported,
    IReadOnlyList<string> Members,
    string Rule,
    string Reason,
    BootstrapDifference? WinnerVsRunnerUp,
    BootstrapDifference? EnsembleVsWinner,
    BootstrapDifference? FlipVsNone,
    TemperatureFit Temperature,
    int Resamples)
{
    /// <summary>Whether the candidates include the mirrored pass (<c>--tta flip</c>); with <c>none</c> it is not run.</summary>
    public bool FlipMeasured => Candidates.Any(c => c.Tta == TestTimeAugmentation.Flip);
}

/// <summary>
/// Chooses what <c>trainer train</c> exports from the strategies' validation predictions, and measures it honestly:
/// paired bootstrap intervals for every candidate, the winner against the runner-up, and one temperature fitted on
/// the exported candidate (in-sample and 2-fold cross-fitted).
/// </summary>
internal static class ExportSelection
{
    /// <summary>The ensemble candidate's name: the mean of every trained strategy's probabilities, one graph.</summary>
    public const string Ensemble = "ensemble";

    /// <summary>What <c>--tta</c> does by default.</summary>
    public const TestTimeAugmentation DefaultTta = TestTimeAugmentation.Flip;

    /// <param name="plain">Each strategy's validation predictions on the photos as they are, in plan order.</param>
    /// <param name="mirrored">The same on the mirrored photos; null when not measured.</param>
    /// <param name="tta">The test-time augmentation the export uses.</param>
    /// <param name="export">What <c>--export</c> asked for. <see cref="ExportKind.Auto"/> takes the ensemble only when its
    /// validation loss is below the winner's (same test-time augmentation): it costs one pass per distinct backbone at
    /// inference, so it must earn it.</param>
    public static (SelectionReport Report, PredictionCandidate Chosen) Choose(
        IReadOnlyDictionary<string, ValidationPredictions> plain, IReadOnlyDictionary<string, ValidationPredictions>? mirrored, TestTimeAugmentation tta, ExportChoice export, int seed = 42)
    {
        if (plain.Count == 0)
        {
            throw new ArgumentException("There are no strategies to choose from.", nameof(plain));
        }

        if (tta == TestTimeAugmentation.Flip && mirrored is null)
        {
            throw new ArgumentException("Test-time augmentation 'flip' needs the mirrored validation predictions.", nameof(mirrored));
        }

        var names = plain.Keys.ToList();
        IReadOnlyList<ValidationPredictions> Views(string name, bool withMirror) => withMirror ? [plain[name], mirrored![name]] : [plain[name]];
        var candidates = new List<PredictionCandidate>();
        foreach (var mode in mirrored is null ? [false] : new[] { false, true })
        {
            var modeName = mode ? TestTimeAugmentation.Flip : TestTimeAugmentation.None;
            candidates.AddRange(names.Select(n => new PredictionCandidate(n, modeName, Views(n, mode))));
            if (names.Count > 1)
            {
                candidates.Add(new PredictionCandidate(Ensemble, modeName, [.. names.SelectMany(n => Views(n, mode))]));
            }
        }

        static string Key(PredictionCandidate c) => $"{c.Name} ({c.Tta.Name()})";
        var bootstrap = new PairedBootstrap([.. candidates.Select(c => new PerPhotoScores(Key(c), c.Losses(), c.Correct()))], seed: seed);
        CandidateFigures Figures(PredictionCandidate c)
        {
            var row = bootstrap.Row(Key(c));
            return new CandidateFigures(c.Name, c.Tta, row.Loss, row.LossInterval, row.Accuracy, row.AccuracyInterval);
        }

        var figures = candidates.Select(Figures).ToList();

        // The single strategies under the export's test-time augmentation, the winner first.
        var ranked = WinnerRule.Rank([.. figures.Where(f => f.Tta == tta && f.Name != Ensemble)])
            .Select(f => (Candidate: candidates.Single(c => c.Name == f.Name && c.Tta == tta), Figures: f)).ToList();
        var winner = ranked[0];
        var winnerVsRunnerUp = ranked.Count > 1 ? bootstrap.Difference(Key(winner.Candidate), Key(ranked[1].Candidate)) : null;
        var ensemble = candidates.FirstOrDefault(c => c.Name == Ensemble && c.Tta == tta);
        var ensembleVsWinner = ensemble is null ? null : bootstrap.Difference(Key(ensemble), Key(winner.Candidate));

        PredictionCandidate chosen;
        string rule;
        var ensembleWins = ensemble is not null && ensembleVsWinner is not null && ensembleVsWinner.Loss < 0;
        if (export.Kind == ExportKind.Winner || (export.Kind is ExportKind.Ensemble or ExportKind.Auto && ensemble is null) || (export.Kind == ExportKind.Auto && !ensembleWins))
        {
            chosen = winner.Candidate;
            rule = export.Kind switch
            {
                ExportKind.Winner => "--export winner: the winner, the single strategy with the lowest validation loss.",
                ExportKind.Auto when ensemble is not null => $"--export auto: the ensemble only when its validation loss is below the winner's; it was not ({ensembleVsWinner!.Loss:+0.0000;-0.0000;0}), so the winner, one model, is exported.",
                _ => $"--export {export} with one strategy trained: that strategy.",
            };
        }
        else if (export.Kind == ExportKind.Auto)
        {
            chosen = ensemble!;
            rule = $"--export auto: the ensemble's validation loss is below the winner's ({ensembleVsWinner!.Loss:+0.0000;-0.0000;0}), so the mean of every trained strategy's probabilities is exported, one graph.";
        }
        else if (export.Kind == ExportKind.Ensemble)
        {
            chosen = ensemble!;
            rule = "--export ensemble: the mean of every trained strategy's probabilities, one graph.";
        }
        else
        {
            chosen = candidates.SingleOrDefault(c => c.Name == export.Strategy && c.Tta == tta)
                ?? throw new ArgumentException($"--export {export}: that strategy was not trained in this run (trained: {string.Join(", ", names)}).", nameof(export));
            rule = $"--export {export}: that strategy, as asked.";
        }

        // What the mirrored pass did to the exported candidate, on the same resamples.
        var flipVsNone = mirrored is null ? null : bootstrap.Difference($"{chosen.Name} ({TestTimeAugmentation.Flip.Name()})", $"{chosen.Name} ({TestTimeAugmentation.None.Name()})");
        var temperature = TemperatureScaling.Fit(chosen, seed);
        var reason = Reason(winner.Figures, ranked.Count > 1 ? ranked[1].Figures : null, winnerVsRunnerUp, ensembleVsWinner);
        var members = chosen.Name == Ensemble ? names : [chosen.Name];
        var report = new SelectionReport(figures, tta, export.ToString(), winner.Figures.Name, chosen.Name, members, rule, reason, winnerVsRunnerUp, ensembleVsWinner, flipVsNone, temperature, bootstrap.Resamples);
        return (report, chosen);
    }

    private static string Reason(CandidateFigures winner, CandidateFigures? runnerUp, BootstrapDifference? difference, BootstrapDifference? ensemble)
    {
        var text = $"Lowest single-strategy validation loss (test-time augmentation {winner.Tta.Name()}): {winner.Name}, {winner.Loss:F4}.";
        if (runnerUp is not null && WinnerRule.Ties(runnerUp, winner.Loss))
        {
            text += $" It ties with {runnerUp.Name} on validation loss (within {WinnerRule.LossTieTolerance:G}) and wins on validation accuracy, {winner.Accuracy:P2} against {runnerUp.Accuracy:P2}.";
        }
        else if (runnerUp is not null && difference is not null)
        {
            text += difference.LossWithinNoise
                ? $" It is within noise of the runner-up {runnerUp.Name} ({runnerUp.Loss:F4}): the 95 % interval of the difference, [{difference.LossInterval.Low:F4}, {difference.LossInterval.High:F4}], holds 0."
                : $" It beats the runner-up {runnerUp.Name} ({runnerUp.Loss:F4}) beyond noise: the 95 % interval of the difference is [{difference.LossInterval.Low:F4}, {difference.LossInterval.High:F4}].";
        }

        if (ensemble is not null)
        {
            text += $" The ensemble minus the winner: loss {ensemble.Loss:+0.0000;-0.0000;0}, 95 % interval [{ensemble.LossInterval.Low:F4}, {ensemble.LossInterval.High:F4}]{(ensemble.LossWithinNoise ? ", within noise" : ensemble.Loss < 0 ? ", lower beyond noise" : ", higher beyond noise")}.";
        }

        return text;
    }
}
