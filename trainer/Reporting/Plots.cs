using System.Globalization;
using DogsVsCats.Vision.Shared;
using DogsVsCats.Vision.Trainer.Results;
using ScottPlot;

namespace DogsVsCats.Vision.Trainer.Reporting;

/// <summary>PNG charts for the run report (ScottPlot 5; text needs a system font, e.g. Debian's fonts-dejavu-core).</summary>
internal static class Plots
{
    private const int LossWidth = 900;
    private const int LossHeight = 560;

    /// <summary>Train (dashed) and validation (solid) loss per epoch of every strategy, on one chart.</summary>
    public static void LossCurves(string pngPath, IReadOnlyList<StrategyResult> results)
    {
        using var plot = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        for (var i = 0; i < results.Count; i++)
        {
            var result = results[i];
            var color = palette.GetColor(i);
            var epochs = result.Epochs.Select(e => (double)e.Epoch).ToArray();

            var train = plot.Add.Scatter(epochs, result.Epochs.Select(e => e.TrainLoss).ToArray(), color);
            train.LegendText = $"{result.Strategy} train";
            train.LinePattern = LinePattern.Dashed;
            train.LineWidth = 2;
            train.MarkerSize = 0;

            var validation = plot.Add.Scatter(epochs, result.Epochs.Select(e => e.ValidationLoss).ToArray(), color);
            validation.LegendText = $"{result.Strategy} validation";
            validation.LineWidth = 2;
            validation.MarkerSize = 5;

            // The epoch whose checkpoint was kept, so the chart shows which point the reported numbers come from.
            if (result.Epochs.FirstOrDefault(e => e.Epoch == result.BestEpoch) is { } best)
            {
                var marker = plot.Add.Marker(best.Epoch, best.ValidationLoss, MarkerShape.OpenCircle, 14, color);
                marker.LegendText = string.Empty;
            }
        }

        // Epochs are whole numbers; a tick at 1.5 would suggest a measurement that does not exist.
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true };
        plot.Title("Loss per epoch (dashed: train, solid: validation, circle: best epoch)");
        plot.XLabel("Epoch");
        plot.YLabel("Cross-entropy loss");
        plot.ShowLegend(Alignment.UpperRight);
        AtomicFile.WriteAllBytes(pngPath, plot.GetImageBytes(LossWidth, LossHeight, ImageFormat.Png));
    }

    /// <summary>Heat map of counts, truth in rows (top to bottom) and predictions in columns, counts written in the cells.</summary>
    public static void ConfusionMatrix(string pngPath, ClassificationMetrics metrics, string title)
    {
        var classes = metrics.PerClass.Select(c => c.Label).ToArray();
        var n = classes.Length;
        var max = Math.Max(1, metrics.ConfusionMatrix.SelectMany(row => row).DefaultIfEmpty(0).Max());

        using var plot = new Plot();
        for (var truth = 0; truth < n; truth++)
        {
            for (var predicted = 0; predicted < n; predicted++)
            {
                var count = metrics.ConfusionMatrix[truth][predicted];
                var level = (double)count / max;
                // Row 0 at the top, as in a printed confusion matrix: y runs from n (top) down to 0.
                var y = n - truth - 1;
                var cell = plot.Add.Rectangle(predicted, predicted + 1, y, y + 1);
                cell.FillColor = Shade(level);
                cell.LineColor = Colors.White;
                cell.LineWidth = 1;

                var text = plot.Add.Text(count.ToString(), predicted + 0.5, y + 0.5);
                text.Alignment = Alignment.MiddleCenter;
                text.LabelFontSize = 22;
                text.LabelBold = true;
                text.LabelFontColor = level > 0.5 ? Colors.White : Colors.Black;
            }
        }

        var centers = Enumerable.Range(0, n).Select(i => i + 0.5).ToArray();
        plot.Axes.Bottom.SetTicks(centers, classes);
        plot.Axes.Left.SetTicks(centers, classes.Reverse().ToArray());
        plot.Axes.Bottom.TickLabelStyle.FontSize = 16;
        plot.Axes.Left.TickLabelStyle.FontSize = 16;
        plot.Axes.SetLimits(0, n, 0, n);
        plot.HideGrid();
        plot.Title(title);
        plot.XLabel("Predicted class");
        plot.YLabel("True class");
        var size = Math.Clamp(180 + (110 * n), 420, 1400);
        AtomicFile.WriteAllBytes(pngPath, plot.GetImageBytes(size, size, ImageFormat.Png));
    }

    /// <summary>
    /// Reliability diagram: per confidence bin, the accuracy (bar) against the mean confidence (marker) and the diagonal a
    /// calibrated model follows, with each bin's photo count above its bar. With a temperature, the model before it
    /// (<paramref name="untempered"/>) is drawn beside the file's bars.
    /// </summary>
    public static void Reliability(string pngPath, CalibrationFigures calibrated, CalibrationFigures? untempered, double? temperature)
    {
        using var plot = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        var binWidth = 1.0 / calibrated.Bins.Count;
        var diagonal = plot.Add.Line(0, 0, 1, 1);
        diagonal.LinePattern = LinePattern.Dashed;
        diagonal.Color = Colors.Gray;
        diagonal.LegendText = "calibrated (accuracy = confidence)";
        if (untempered is not null)
        {
            Series(untempered, palette.GetColor(1), -binWidth / 4, binWidth / 2, $"before temperature: ECE {Invariant(untempered.ExpectedCalibrationError)}, NLL {Invariant(untempered.LogLoss)}");
        }

        var label = temperature is { } t ? $"after temperature {t.ToString("G4", CultureInfo.InvariantCulture)}" : "model file (no temperature)";
        Series(calibrated, palette.GetColor(0), untempered is null ? 0 : binWidth / 4, untempered is null ? binWidth * 0.9 : binWidth / 2, $"{label}: ECE {Invariant(calibrated.ExpectedCalibrationError)}, NLL {Invariant(calibrated.LogLoss)}");

        plot.Axes.SetLimits(0, 1, 0, 1.12);
        plot.Title($"Reliability on validation ({calibrated.Images} photos, {calibrated.Bins.Count} bins; bar: accuracy, dot: mean confidence, n: photos)");
        plot.XLabel("Top probability (confidence)");
        plot.YLabel("Accuracy");
        plot.ShowLegend(Alignment.UpperLeft);
        AtomicFile.WriteAllBytes(pngPath, plot.GetImageBytes(LossWidth, LossHeight, ImageFormat.Png));

        void Series(CalibrationFigures figures, Color color, double offset, double size, string legend)
        {
            var used = figures.Bins.Where(b => b.Count > 0).ToList();
            var bars = plot.Add.Bars(used.Select(b => new Bar
            {
                Position = ((b.Lower + b.Upper) / 2) + offset,
                Value = b.Accuracy,
                Size = size,
                FillColor = color.WithAlpha(0.75),
                LineColor = color,
            }).ToList());
            bars.LegendText = legend;
            var markers = plot.Add.Markers(used.Select(b => ((b.Lower + b.Upper) / 2) + offset).ToArray(), used.Select(b => b.MeanConfidence).ToArray(), MarkerShape.FilledCircle, 6, Colors.Black);
            markers.LegendText = string.Empty;
            foreach (var bin in used)
            {
                var count = plot.Add.Text($"n={bin.Count}", ((bin.Lower + bin.Upper) / 2) + offset, bin.Accuracy + 0.01);
                count.Alignment = Alignment.LowerCenter;
                count.LabelFontSize = 10;
            }
        }
    }

    private static string Invariant(double value) => value.ToString("F4", CultureInfo.InvariantCulture);

    // White (0) to a dark blue (1): readable in print and for the common colour-vision deficiencies.
    private static Color Shade(double level)
    {
        static byte Mix(byte from, byte to, double t) => (byte)Math.Round(from + ((to - from) * t));
        var t = Math.Clamp(level, 0, 1);
        return new Color(Mix(247, 8, t), Mix(251, 48, t), Mix(255, 107, t));
    }
}
