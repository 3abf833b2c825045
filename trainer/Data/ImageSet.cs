namespace DogsVsCats.Vision.Trainer.Data;

/// <summary>Decoded, resized images held in memory; index i of every list is the same image.</summary>
public sealed class ImageSet
{
    public required int Width { get; init; }

    public required int Height { get; init; }

    public required IReadOnlyList<string> Paths { get; init; }

    public required int[] Labels { get; init; }

    /// <summary>Each Height*Width*3 bytes: BGR, HWC, row-major, the output of ImagePreprocessing.Resize.</summary>
    public required byte[][] Pixels { get; init; }

    public int Count => Labels.Length;
}
