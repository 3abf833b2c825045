using DogsVsCats.Vision.Shared;
using DogsVsCats.Vision.Trainer.Export;
using DogsVsCats.Vision.Trainer.Results;
using DogsVsCats.Vision.Trainer.Selection;
using DogsVsCats.Vision.Trainer.Strategies;

namespace DogsVsCats.Vision.Trainer.Run;

/// <summary>The end of a run: measure every candidate on validation, choose what to export, fit its temperature, write it.</summary>
internal static class ModelChoice
{
    /// <summary>What <c>--export</c> accepts for a run of <paramref name="plan"/>; anything else fails before training.</summary>
    public static void Check(ExportChoice export, IReadOnlyList<Strategy> plan)
    {
        if (export.Kind == ExportKind.Strategy && !plan.Any(s => s.Name == export.Strategy))
        {
            throw new ArgumentException($"--export {export}: this run trains {string.Join(", ", plan.Select(s => s.Name))}; choose one of {string.Join(", ", [.. ExportChoice.Kinds, .. plan.Select(s => s.Name)])}.");
        }
    }

    /// <summary>
    /// Measures the candidates and chooses; returns the members to export. The mirrored pass (a forward over the
    /// validation photos per distinct backbone) runs only for <c>--tta flip</c>: with <c>none</c> the user asked for no
    /// mirror, so the flip candidates are not measured and the choice is among the plain ones.
    /// </summary>
    public static (SelectionReport Report, IReadOnlyList<StrategyOutcome> Members) Choose(
        IReadOnlyList<(string Name, StrategyOutcome Outcome)> outcomes, StrategyContext context, TestTimeAugmentation tta, ExportChoice export)
    {
        var mirroredByName = tta == TestTimeAugmentation.Flip ? MirroredValidation.Predict(outcomes, context) : null;
        if (mirroredByName is null)
        {
            context.Progress.Log($"Mirrored validation pass skipped (--tta {tta.Name()}): flip candidates are not measured.");
        }

        // Plain and mirrored views of every candidate over the same photos (one may have turned unreadable between passes).
        var names = outcomes.Select(o => o.Name).ToList();
        IReadOnlyList<ValidationPredictions> mirroredViews = mirroredByName is null ? [] : [.. names.Select(n => mirroredByName[n])];
        var views = ValidationPredictions.Common([.. outcomes.Select(o => o.Outcome.Predictions), .. mirroredViews]);
        var plain = names.Select((n, i) => (n, views[i])).ToDictionary(v => v.n, v => v.Item2);
        var mirrored = mirroredByName is null ? null : names.Select((n, i) => (n, views[names.Count + i])).ToDictionary(v => v.n, v => v.Item2);
        var (report, _) = ExportSelection.Choose(plain, mirrored, tta, export, context.Settings.Seed);
        var fit = report.Temperature;
        context.Progress.Log($"Export: {report.Exported} ({string.Join(", ", report.Members)}), test-time augmentation {tta.Name()}. {report.Rule}");
        context.Progress.Log($"Temperature {fit.Temperature:F3}: validation loss {fit.LossBefore:F4} -> {fit.LossAfter:F4} in-sample, 2-fold cross-fitted {fit.CrossFittedLoss:F4}: {(fit.Kept ? "kept" : "not kept (T = 1)")}.");
        return (report, [.. report.Members.Select(m => outcomes.Single(o => o.Name == m).Outcome)]);
    }

    /// <summary>
    /// Writes the chosen model as one graph. A single strategy's checkpoint description is rewritten to the exported
    /// one (temperature, test-time augmentation, the exported graph's validation figures), so exporting that
    /// checkpoint later gives the same file.
    /// </summary>
    public static ModelDescription Export(SelectionReport report, IReadOnlyList<StrategyOutcome> members, string path)
    {
        var exported = report.Candidates.Single(c => c.Name == report.Exported && c.Tta == report.Tta);
        var fit = report.Temperature;
        var description = members[0].Info with
        {
            Strategy = report.Exported,
            ValidationLoss = fit.AppliedLoss,
            ValidationAccuracy = exported.Accuracy,
            Tta = report.Tta.Name(),
            Temperature = fit.Applied,
            Members = members.Count > 1 ? report.Members : [],
        };
        ModelExporter.Export([.. members.Select(m => m.Model)], description, path, overwrite: false);
        if (members.Count == 1)
        {
            CheckpointInfo.Save(description, members[0].Result.CheckpointPath);
        }

        return description;
    }
}
