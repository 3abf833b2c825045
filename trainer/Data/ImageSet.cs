namespace DogsVsCats.Vision.Trainer.Data;

/// <summary>
/// The photos of one split, decoded only while a pass over them runs (<see cref="PrefetchDecoder"/>): what is held for the
/// whole run is a path and a label per photo, never its pixels. Index i of every list is the same photo.
/// </summary>
internal sealed class ImageSet
{
    public required int Width { get; init; }

    public required int Height { get; init; }

    public required IReadOnlyList<string> Paths { get; init; }

    public required int[] Labels { get; init; }

    /// <summary>Where a photo that cannot be read when its turn comes is recorded; a run's splits share one, its report reads it.</summary>
    public SkipLog Skipped { get; init; } = new();

    /// <summary>Threads that decode photos during a pass (0 or less = all cores).</summary>
    public int DecodeThreads { get; init; }

    public int Count => Labels.Length;
}
