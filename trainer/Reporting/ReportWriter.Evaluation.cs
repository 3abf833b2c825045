using System.Globalization;
using System.Text;

namespace DogsVsCats.Vision.Trainer.Reporting;

/// <summary>The report's sections on the exported model file: calibration, then the highest-loss photos.</summary>
internal static partial class ReportWriter
{
    private static void EvaluationSections(StringBuilder md, ModelEvaluation evaluation)
    {
        var after = evaluation.Calibrated;
        md.AppendLine().AppendLine("## Calibration").AppendLine();
        md.AppendLine($"{Code(evaluation.Model)} run with ONNX Runtime on the {after.Images} validation photos. " +
            (evaluation.Temperature is { } t
                ? $"Its logits are divided by the temperature {t.ToString("G6", CultureInfo.InvariantCulture)} before the softmax; 'before' is softmax(T log p) of its probabilities."
                : "It has no temperature (none in its metadata, or 1): its probabilities are the model's own.")).AppendLine();
        var columns = evaluation.Untempered is { } before
            ? new[] { ("Before temperature", before), ("After (the file)", after) }
            : [("The file", after)];
        Table(md, ["Measure", .. columns.Select(c => c.Item1)],
        [
            ["NLL (log loss)", .. columns.Select(c => F4(c.Item2.LogLoss))],
            ["Accuracy", .. columns.Select(c => Percent(c.Item2.Accuracy))],
            [$"ECE ({after.Bins.Count} equal-width bins)", .. columns.Select(c => F4(c.Item2.ExpectedCalibrationError))],
            [$"Photos with top probability below {F2(after.MinConfidence)}", .. columns.Select(c => Percent(c.Item2.FractionBelowMinConfidence))],
            [$"Accuracy of those at or above {F2(after.MinConfidence)}", .. columns.Select(c => double.IsNaN(c.Item2.AccuracyAboveMinConfidence) ? "none" : Percent(c.Item2.AccuracyAboveMinConfidence))],
        ]);
        md.AppendLine($"With `--min-confidence {F2(after.MinConfidence)}` the realtime app would call {Percent(after.FractionBelowMinConfidence)} of these photos 'uncertain' " +
            $"and label the rest with {(double.IsNaN(after.AccuracyAboveMinConfidence) ? "no" : Percent(after.AccuracyAboveMinConfidence))} accuracy.").AppendLine();
        md.AppendLine($"![Reliability diagram]({evaluation.ReliabilityDiagram})").AppendLine();
        Table(md, ["Confidence bin", "Photos", "Mean confidence", "Accuracy"],
            after.Bins.Where(b => b.Count > 0).Select(b => new[]
            {
                $"{F2(b.Lower)}-{F2(b.Upper)}", b.Count.ToString(CultureInfo.InvariantCulture), F4(b.MeanConfidence), Percent(b.Accuracy),
            }));

        md.AppendLine("## Mistakes").AppendLine();
        LossSection(md, evaluation.ValidationMistakes, "Validation photos with the highest loss, highest first: the region the model sees, then the same with the class activation map of the predicted class over it.");
        if (evaluation.TrainHighLoss is null)
        {
            md.AppendLine("Training photos were not scored (`--report-photos validation`).").AppendLine();
            return;
        }

        LossSection(md, evaluation.TrainHighLoss, "Training photos with the highest loss: **possible label errors** (the Kaggle set has a few mislabelled photos). Look at them before trusting the training labels.");
        md.AppendLine("Time to score the photos with the model file: " +
            string.Join("; ", evaluation.Passes.Select(p => $"{p.Phase} {p.Images} photos in {Seconds(p.Seconds)} ({p.ImagesPerSecond.ToString("F1", CultureInfo.InvariantCulture)}/s)")) + ".");
    }

    private static void LossSection(StringBuilder md, LossList list, string caption)
    {
        md.AppendLine($"### {char.ToUpperInvariant(list.Split[0])}{list.Split[1..]} photos").AppendLine();
        md.AppendLine(caption + $" {list.Wrong} of {list.Photos} are wrong; [{list.Csv}]({list.Csv}) lists {list.Rows} (every wrong one, then the highest-loss right ones up to {LossGallery.CsvRows}).").AppendLine();
        md.AppendLine($"![{list.Split} photos with the highest loss]({list.Image})").AppendLine();
        Table(md, ["#", "Photo", "Truth", "Predicted", "Probability", "Loss"],
            list.Top.Select((r, i) => new[]
            {
                (i + 1).ToString(CultureInfo.InvariantCulture), Code(Path.GetFileName(r.Path)), r.Truth, r.Predicted, F4(r.Probability), F4(r.Loss),
            }));
    }

    private static string F4(double value) => value.ToString("F4", CultureInfo.InvariantCulture);

    private static string F2(double value) => value.ToString("F2", CultureInfo.InvariantCulture);
}
