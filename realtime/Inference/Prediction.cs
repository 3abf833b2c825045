using DogsVsCats.Vision.Shared;

namespace DogsVsCats.Vision.Realtime.Inference;

/// <summary>Milliseconds spent in each stage of one classifier call (the whole batch), as Ultralytics reports them.</summary>
internal readonly record struct StageTimings(double PreprocessMs, double InferenceMs, double PostprocessMs);

/// <summary>
/// One image's result; the same record flows to every output (CSV, JSON lines, window, log, recording), so no output
/// re-derives a label. <see cref="Probabilities"/> are in <see cref="Labels"/> order.
/// </summary>
internal sealed record Prediction(
    IReadOnlyList<string> Labels,
    float[] Probabilities,
    int Width,
    int Height,
    int BatchSize,
    StageTimings Timings)
{
    /// <summary>Label used when the top probability is below the minimum confidence.</summary>
    public const string Uncertain = "uncertain";

    public int TopIndex => ClassProbabilities.TopIndex(Probabilities);

    public float Confidence => Probabilities[TopIndex];

    /// <summary>The top label, or <see cref="Uncertain"/> when its probability is below <paramref name="minConfidence"/>.</summary>
    public string LabelAt(double minConfidence) => Confidence >= minConfidence ? Labels[TopIndex] : Uncertain;
}
