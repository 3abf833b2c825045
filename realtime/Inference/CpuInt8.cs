using System.Runtime.Intrinsics.X86;
using ArmDotProduct = System.Runtime.Intrinsics.Arm.Dp;

namespace DogsVsCats.Vision.Realtime.Inference;

/// <summary>Whether this CPU has the int8 dot-product instructions that make ONNX Runtime's int8 convolutions fast.</summary>
internal static class CpuInt8
{
    public static bool HasDotProduct { get; } = Detect();

    private static bool Detect()
    {
        // AVX10.1 includes AVX512-VNNI. .NET has no AVX512-VNNI class of its own, so on Linux the kernel's flag list decides.
        if (AvxVnni.IsSupported || Avx10v1.IsSupported || ArmDotProduct.IsSupported)
        {
            return true;
        }

        try
        {
            return File.Exists("/proc/cpuinfo") && File.ReadLines("/proc/cpuinfo").Any(l => l.StartsWith("flags", StringComparison.Ordinal) && l.Contains(" avx512_vnni", StringComparison.Ordinal));
        }
        catch (IOException)
        {
            return false;
        }
    }
}
