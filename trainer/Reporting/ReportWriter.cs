using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using DogsVsCats.Vision.Shared;
using DogsVsCats.Vision.Trainer.Export;
using DogsVsCats.Vision.Trainer.Selection;

namespace DogsVsCats.Vision.Trainer.Reporting;

/// <summary>Writes a run's report.md, report.json, loss_curves.png and confusion_matrix.png (the winner's).</summary>
internal static partial class ReportWriter
{
    public const string MarkdownFile = "report.md";
    public const string JsonFile = "report.json";
    public const string LossCurvesFile = "loss_curves.png";
    public const string ConfusionMatrixFile = "confusion_matrix.png";

    /// <summary>Options report.json is written with; read it back with the same options.</summary>
    public static JsonSerializerOptions JsonOptions { get; } = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        // A diverged run has NaN losses; the report must still be written, not throw.
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        // Enums as their command-line text ("flip"), as a reader of the file expects, not as numbers.
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };

    public static void Write(string runDirectory, RunReport report)
    {
        var winner = report.Strategies.FirstOrDefault(s => s.Strategy == report.Winner)
            ?? throw new ArgumentException($"The winner '{report.Winner}' is not one of the strategies in the report.", nameof(report));

        Directory.CreateDirectory(runDirectory);
        Plots.LossCurves(Path.Combine(runDirectory, LossCurvesFile), report.Strategies);
        Plots.ConfusionMatrix(Path.Combine(runDirectory, ConfusionMatrixFile), winner.Metrics, $"Confusion matrix: {winner.Strategy} (validation)");
        AtomicFile.WriteAllText(Path.Combine(runDirectory, JsonFile), JsonSerializer.Serialize(report, JsonOptions) + "\n");
        AtomicFile.WriteAllText(Path.Combine(runDirectory, MarkdownFile), Markdown(report));
    }

    private static string Markdown(RunReport report)
    {
        var md = new StringBuilder();
        var dataset = report.Dataset;
        md.AppendLine($"# Training run {report.Started:yyyy-MM-dd HH:mm:ss zzz}").AppendLine();
        md.AppendLine($"Backbone: {report.Backbone}. Device: {report.Device}. Total time: {Seconds(report.TotalSeconds)}.").AppendLine();

        md.AppendLine("## Winner").AppendLine();
        md.AppendLine($"**{Cell(report.Winner)}**: {report.WinnerReason}").AppendLine();

        if (report.Selection is { } selection)
        {
            Exported(md, selection);
        }

        md.AppendLine("## Dataset").AppendLine();
        Table(md, ["Item", "Value"],
        [
            ["Root", Code(dataset.Root)],
            ["Layout", dataset.Layout],
            ["Classes", string.Join(", ", dataset.Classes)],
            ["Train images", dataset.TrainImages.ToString(CultureInfo.InvariantCulture)],
            ["Validation images", dataset.ValidationImages.ToString(CultureInfo.InvariantCulture)],
            ["Validation set", dataset.ExplicitValidation ? "explicit folder" : "split off the training data"],
            ["Skipped files", dataset.Skipped.Count.ToString(CultureInfo.InvariantCulture)],
        ]);
        if (dataset.Skipped.Count > 0)
        {
            md.AppendLine("### Skipped files").AppendLine();
            Table(md, ["File", "Reason"], dataset.Skipped.Select(s => new[] { Code(s.Path), s.Reason }));
        }

        md.AppendLine("## Strategies").AppendLine();
        Table(md, ["Strategy", "Val loss", "Val accuracy", "Best epoch", "Trainable params", "Frozen params", "Train time", "Images/s per phase"],
            report.Strategies.Select(s => new[]
            {
                s.Strategy == report.Winner ? $"**{s.Strategy}**" : s.Strategy,
                s.ValidationLoss.ToString("F4", CultureInfo.InvariantCulture),
                Percent(s.ValidationAccuracy),
                s.BestEpoch.ToString(CultureInfo.InvariantCulture),
                s.TrainableParameters.ToString("N0", CultureInfo.InvariantCulture),
                s.FrozenParameters.ToString("N0", CultureInfo.InvariantCulture),
                Seconds(s.TrainSeconds),
                string.Join("; ", s.Phases.Select(p => $"{p.Phase}: {p.ImagesPerSecond:F1} ({p.Images} in {Seconds(p.Seconds)})")),
            }));

        md.AppendLine("![Loss curves](" + LossCurvesFile + ")").AppendLine();

        foreach (var s in report.Strategies)
        {
            md.AppendLine($"### {s.Strategy}").AppendLine();
            if (s.CheckpointPath.Length > 0)
            {
                md.AppendLine($"Checkpoint: {Code(s.CheckpointPath)}").AppendLine();
            }

            foreach (var note in s.Notes)
            {
                md.AppendLine($"- {note}");
            }

            if (s.Notes.Count > 0)
            {
                md.AppendLine();
            }

            Table(md, ["Class", "Precision", "Recall", "F1", "Support"],
                s.Metrics.PerClass.Select(c => new[]
                {
                    c.Label, Percent(c.Precision), Percent(c.Recall), Percent(c.F1), c.Support.ToString(CultureInfo.InvariantCulture),
                }));

            var labels = s.Metrics.PerClass.Select(c => c.Label).ToList();
            Table(md, ["Truth \\ Predicted", .. labels],
                s.Metrics.ConfusionMatrix.Select((row, i) => new[] { i < labels.Count ? labels[i] : i.ToString(CultureInfo.InvariantCulture) }
                    .Concat(row.Select(v => v.ToString(CultureInfo.InvariantCulture))).ToArray()));
        }

        md.AppendLine($"![Confusion matrix of {Cell(report.Winner)}](" + ConfusionMatrixFile + ")");
        if (report.Evaluation is { } evaluation)
        {
            EvaluationSections(md, evaluation);
        }

        return md.ToString();
    }

    /// <summary>The exported model, the rule that chose it, every candidate with its interval, and the temperature.</summary>
    private static void Exported(StringBuilder md, SelectionReport selection)
    {
        string Interval(Interval i, Func<double, string> format) => $"[{format(i.Low)}, {format(i.High)}]";
        static string Loss(double v) => v.ToString("F4", CultureInfo.InvariantCulture);
        static string SignedLoss(double v) => v.ToString("+0.0000;-0.0000;0.0000", CultureInfo.InvariantCulture);

        md.AppendLine("## Exported model").AppendLine();
        md.AppendLine($"**{Cell(selection.Exported)}** ({string.Join(", ", selection.Members)}), test-time augmentation **{selection.Tta.Name()}**, temperature **{selection.Temperature.Applied.ToString("F3", CultureInfo.InvariantCulture)}**. Rule: {selection.Rule}").AppendLine();
        md.AppendLine(selection.Reason).AppendLine();
        md.AppendLine($"Validation loss and accuracy of every candidate at temperature 1, with paired-bootstrap 95 % intervals ({selection.Resamples} resamples of the validation photos, the same for every candidate). " +
            (selection.FlipMeasured
                ? "Test-time augmentation \"flip\" averages the photo and its mirror."
                : $"Flip candidates were not measured because `--tta {selection.Tta.Name()}`: the mirrored validation pass was skipped.")).AppendLine();
        Table(md, ["Candidate", "TTA", "Val loss", "95 % interval", "Val accuracy", "95 % interval"],
            selection.Candidates.Select(c => new[]
            {
                c.Name == selection.Exported && c.Tta == selection.Tta ? $"**{c.Name}**" : c.Name,
                c.Tta.Name(),
                Loss(c.Loss),
                Interval(c.LossInterval, Loss),
                Percent(c.Accuracy),
                Interval(c.AccuracyInterval, Percent),
            }));
        var differences = new[] { selection.WinnerVsRunnerUp, selection.EnsembleVsWinner, selection.FlipVsNone }.OfType<BootstrapDifference>().ToList();
        if (differences.Count > 0)
        {
            Table(md, ["Difference", "Val loss", "95 % interval", "Within noise", "Val accuracy", "95 % interval"],
                differences.Select(d => new[]
                {
                    $"{d.First} - {d.Second}",
                    SignedLoss(d.Loss),
                    Interval(d.LossInterval, SignedLoss),
                    d.LossWithinNoise ? "yes" : "no",
                    Percent(d.Accuracy),
                    Interval(d.AccuracyInterval, Percent),
                }));
        }

        var fit = selection.Temperature;
        md.AppendLine($"Temperature, fitted on the validation logits of the exported model (minimum log loss): T = {fit.Temperature.ToString("F3", CultureInfo.InvariantCulture)}. " +
            (fit.Kept
                ? "It lowers the cross-fitted loss too, so it is folded into the graph as softmax(logits / T)."
                : "The cross-fitted loss is not lower than at T = 1 (the in-sample gain does not carry to photos it was not fitted on), so the graph keeps T = 1.")).AppendLine();
        Table(md, ["Validation log loss", "Value"],
        [
            ["T = 1", Loss(fit.LossBefore)],
            ["fitted T (in-sample)", Loss(fit.LossAfter)],
            [$"2-fold cross-fitted (each half at the T of the other: {string.Join(", ", fit.FoldTemperatures.Select(t => t.ToString("F3", CultureInfo.InvariantCulture)))})", Loss(fit.CrossFittedLoss)],
        ]);
    }

    private static void Table(StringBuilder md, IReadOnlyList<string> header, IEnumerable<IReadOnlyList<string>> rows)
    {
        md.AppendLine("| " + string.Join(" | ", header.Select(Cell)) + " |");
        md.AppendLine("|" + string.Concat(header.Select(_ => " --- |")));
        foreach (var row in rows)
        {
            md.AppendLine("| " + string.Join(" | ", row.Select(Cell)) + " |");
        }

        md.AppendLine();
    }

    // A pipe or a line break inside a cell would end the cell or the table.
    private static string Cell(string text) => text.Replace("|", "\\|").ReplaceLineEndings(" ");

    private static string Code(string text) => $"`{text.Replace("`", "'")}`";

    private static string Percent(double fraction) => (fraction * 100).ToString("F2", CultureInfo.InvariantCulture) + " %";

    private static string Seconds(double seconds) => seconds.ToString("F1", CultureInfo.InvariantCulture) + " s";
}
