using DogsVsCats.Vision.Trainer.Export;

namespace DogsVsCats.Vision.Trainer.Cli;

/// <summary>What <c>trainer export</c> was asked to do.</summary>
internal sealed record ExportRequest
{
    public required string Checkpoint { get; init; }

    public required string Output { get; init; }

    /// <summary>Replace <see cref="Output"/> (and its int8 file) if it exists.</summary>
    public bool Force { get; init; }

    /// <summary>null: the test-time augmentation the run exported, from the checkpoint's description.</summary>
    public TestTimeAugmentation? Tta { get; init; }

    /// <summary>Also write the int8 file beside <see cref="Output"/>, calibrated on <see cref="Calibration"/>.</summary>
    public bool WriteInt8Model { get; init; }

    public string? Calibration { get; init; }

    public QuantizationSettings Quantization { get; init; } = new();
}
