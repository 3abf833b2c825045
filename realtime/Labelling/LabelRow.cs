using DogsVsCats.Vision.Realtime.Inference;

namespace DogsVsCats.Vision.Realtime.Labelling;

/// <summary>
/// One file's line in labels.csv: either a prediction or the reason the file could not be used.
/// <see cref="Destination"/> is where sorting puts (or put) the photo; empty when not sorted.
/// </summary>
internal sealed record LabelRow(string Path, string Label, Prediction? Prediction, string? Error, string? Destination)
{
    public static LabelRow Failed(string path, string error) => new(path, "", null, error, null);
}
