using System.Diagnostics;
using DogsVsCats.Vision.Realtime.Inference;
using OpenCvSharp;

namespace DogsVsCats.Vision.Realtime.Live;

/// <summary>Classify + smooth: turns a frame into its <see cref="FrameResult"/>, the only thing later stages read.</summary>
internal sealed class FrameClassifier(Classifier classifier, double smoothing, double minConfidence)
{
    private readonly Mat[] batch = new Mat[1];
    private readonly ProbabilitySmoother smoother = new(smoothing);

    public FrameResult Classify(Frame frame)
    {
        Prediction raw;
        batch[0] = frame.Image;
        try
        {
            raw = classifier.Classify(batch)[0];
        }
        finally
        {
            batch[0] = null!;
        }

        // Copied now: the classifier's buffer holds whatever its next call computes.
        var cam = classifier.Cam(0, raw.TopIndex, out var height, out var width).ToArray();   // [h, w], e.g. 7 x 7
        var smoothed = smoother.Next(raw);
        return new FrameResult(raw, smoothed, smoothed.LabelAt(minConfidence), new ClassMap(cam, height, width, raw.TopIndex), Stopwatch.GetElapsedTime(frame.CapturedAt).TotalMilliseconds);
    }
}

/// <summary>
/// Averages probabilities over frames (exponential moving average, <paramref name="weight"/> for the newest), so the
/// label does not flicker between frames.
/// </summary>
internal sealed class ProbabilitySmoother(double weight)
{
    private float[]? average;

    /// <summary>The raw prediction with its probabilities replaced by the average up to and including it.</summary>
    public Prediction Next(Prediction raw)
    {
        // A new array each frame: the previous result keeps its own values.
        var next = new float[raw.Probabilities.Length];
        for (var i = 0; i < next.Length; i++)
        {
            next[i] = average is null ? raw.Probabilities[i] : (float)((weight * raw.Probabilities[i]) + ((1 - weight) * average[i]));
        }

        average = next;
        return raw with { Probabilities = next };
    }
}
