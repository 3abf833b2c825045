namespace DogsVsCats.Vision.Trainer.Data;

/// <summary>
/// A few photos decoded and resized into memory at once (calibration, benchmarks, checks on a handful of photos);
/// index i of every list is the same image. Training streams its photos instead (<see cref="ImageSet"/>).
/// </summary>
internal sealed class DecodedImages
{
    public required int Width { get; init; }

    public required int Height { get; init; }

    public required IReadOnlyList<string> Paths { get; init; }

    public required int[] Labels { get; init; }

    /// <summary>Each Height*Width*3 bytes: BGR, HWC, row-major, the output of ImagePreprocessing.Resize.</summary>
    public required byte[][] Pixels { get; init; }

    public int Count => Labels.Length;
}
