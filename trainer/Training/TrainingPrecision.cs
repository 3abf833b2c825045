using TorchSharp;
using static TorchSharp.torch;

namespace DogsVsCats.Vision.Trainer.Training;

/// <summary>
/// The number format of the training steps of the blocks <c>finetune</c> unfreezes (<c>--precision</c>). Weights,
/// their updates, evaluation, checkpoints and the export are float32 whichever is chosen.
/// </summary>
internal enum TrainingPrecision
{
    /// <summary>BFloat16 where the CPU computes it natively (AVX512-BF16 or AMX), float32 otherwise and on a GPU.</summary>
    Auto,

    /// <summary>Float32 throughout.</summary>
    Fp32,

    /// <summary>The unfrozen blocks' forward and backward in bfloat16 on a float32 master copy of their weights.</summary>
    Bf16,
}

internal static class TrainingPrecisions
{
    /// <summary>The CLI spelling of each value: auto, fp32, bf16.</summary>
    public static string Name(TrainingPrecision precision) => precision.ToString().ToLowerInvariant();

    public static TrainingPrecision Parse(string name) => Enum.Parse<TrainingPrecision>(name, ignoreCase: true);

    /// <summary>
    /// What <paramref name="requested"/> resolves to on <paramref name="device"/>. Auto takes bfloat16 only where it
    /// was measured to pay: a CPU with native bfloat16 instructions (without them libtorch emulates it, slower than
    /// float32); GPUs are not measured, so auto keeps float32 there.
    /// </summary>
    public static TrainingPrecision Resolve(TrainingPrecision requested, Device device, bool cpuHasBFloat16) => requested switch
    {
        TrainingPrecision.Auto => device.type == DeviceType.CPU && cpuHasBFloat16 ? TrainingPrecision.Bf16 : TrainingPrecision.Fp32,
        _ => requested,
    };

    /// <summary>True when this CPU has native bfloat16 arithmetic (Linux: the avx512_bf16 or amx_bf16 flag); false where that cannot be read.</summary>
    public static bool CpuHasBFloat16 { get; } = ReadCpuFlags().Overlaps(["avx512_bf16", "amx_bf16"]);

    private static HashSet<string> ReadCpuFlags()
    {
        const string cpuinfo = "/proc/cpuinfo";
        try
        {
            var flags = File.Exists(cpuinfo)
                ? File.ReadLines(cpuinfo).FirstOrDefault(l => l.StartsWith("flags", StringComparison.Ordinal))
                : null;
            return flags is null ? [] : [.. flags[(flags.IndexOf(':', StringComparison.Ordinal) + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries)];
        }
        catch (IOException)
        {
            return [];
        }
    }
}
