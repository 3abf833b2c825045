using DogsVsCats.Vision.Shared;

namespace DogsVsCats.Vision.Trainer.Reporting;

/// <summary>Photos whose top probability fell in [<see cref="Lower"/>, <see cref="Upper"/>): how sure the model was and how often it was right.</summary>
internal sealed record ReliabilityBin(double Lower, double Upper, int Count, double MeanConfidence, double Accuracy);

/// <summary>How well a set of probabilities matches the truth, and what a confidence threshold would show.</summary>
/// <param name="LogLoss">Mean negative log probability of the true class (NLL).</param>
/// <param name="ExpectedCalibrationError">Sum over the bins of (share of photos) x |accuracy - mean confidence|.</param>
/// <param name="FractionBelowMinConfidence">Photos whose top probability is below <paramref name="MinConfidence"/>: 'uncertain' in the realtime app.</param>
/// <param name="AccuracyAboveMinConfidence">Accuracy of the others, the labels the app shows; NaN when there are none.</param>
internal sealed record CalibrationFigures(
    int Images,
    double LogLoss,
    double Accuracy,
    double ExpectedCalibrationError,
    IReadOnlyList<ReliabilityBin> Bins,
    double MinConfidence,
    double FractionBelowMinConfidence,
    double AccuracyAboveMinConfidence);

/// <summary>Negative log likelihood, expected calibration error and reliability bins of class probabilities.</summary>
internal static class Calibration
{
    /// <summary>Equal-width confidence bins over [0, 1], as in Guo et al. 2017 (On Calibration of Modern Neural Networks).</summary>
    public const int DefaultBins = 15;

    /// <summary>The threshold the report reads the realtime app's <c>--min-confidence</c> at.</summary>
    public const double DefaultMinConfidence = 0.6;

    // A float32 probability can underflow to 0; its log is taken at float32's smallest normal instead (loss ~87.3).
    private const double Floor = 1.1754943508222875e-38;

    public static CalibrationFigures Measure(IReadOnlyList<float[]> probabilities, IReadOnlyList<int> truth, int bins = DefaultBins, double minConfidence = DefaultMinConfidence)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bins);
        if (probabilities.Count != truth.Count || probabilities.Count == 0)
        {
            throw new ArgumentException($"Need as many truths as probability rows, at least one: got {probabilities.Count} and {truth.Count}.", nameof(truth));
        }

        var n = probabilities.Count;
        var counts = new int[bins];
        var confidenceSums = new double[bins];
        var correctCounts = new int[bins];
        double loss = 0;
        int correct = 0, above = 0, correctAbove = 0;
        for (var i = 0; i < n; i++)
        {
            var p = probabilities[i];
            var top = ClassProbabilities.TopIndex(p);
            var confidence = (double)p[top];
            var right = top == truth[i];
            loss += Loss(p, truth[i]);
            correct += right ? 1 : 0;
            var bin = Bin(confidence, bins);
            counts[bin]++;
            confidenceSums[bin] += confidence;
            correctCounts[bin] += right ? 1 : 0;
            if (confidence >= minConfidence)
            {
                // >= as in the realtime app: a label is shown when its probability reaches --min-confidence.
                above++;
                correctAbove += right ? 1 : 0;
            }
        }

        var table = new ReliabilityBin[bins];
        double ece = 0;
        for (var b = 0; b < bins; b++)
        {
            var meanConfidence = counts[b] > 0 ? confidenceSums[b] / counts[b] : 0;
            var accuracy = counts[b] > 0 ? (double)correctCounts[b] / counts[b] : 0;
            ece += (double)counts[b] / n * Math.Abs(accuracy - meanConfidence);
            table[b] = new ReliabilityBin((double)b / bins, (double)(b + 1) / bins, counts[b], meanConfidence, accuracy);
        }

        return new CalibrationFigures(
            n, loss / n, (double)correct / n, ece, table, minConfidence,
            (double)(n - above) / n, above > 0 ? (double)correctAbove / above : double.NaN);
    }

    /// <summary>Cross-entropy of one photo: -log p[truth].</summary>
    public static double Loss(float[] probabilities, int truth)
    {
        return -Math.Log(Math.Max(probabilities[truth], Floor));
    }

    /// <summary>
    /// The probabilities before a temperature T was applied: a file computes p = softmax(z / T), so T log p = z - T logsumexp(z / T)
    /// differs from the logits z by a constant, which softmax removes: softmax(T log p) = softmax(z).
    /// </summary>
    public static float[] Untemper(float[] probabilities, double temperature)
    {
        if (!double.IsFinite(temperature) || temperature <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(temperature), temperature, "A temperature is a finite number above 0.");
        }

        var scaled = probabilities.Select(p => temperature * Math.Log(Math.Max(p, Floor))).ToArray();
        var max = scaled.Max();
        var exp = scaled.Select(s => Math.Exp(s - max)).ToArray();
        var sum = exp.Sum();
        return [.. exp.Select(e => (float)(e / sum))];
    }

    // Bin b holds confidences in [b / bins, (b + 1) / bins); a confidence of exactly 1 goes in the last bin.
    private static int Bin(double confidence, int bins) => Math.Clamp((int)Math.Floor(confidence * bins), 0, bins - 1);
}
