using DogsVsCats.Vision.Trainer.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace DogsVsCats.Vision.Tests.Training;

/// <summary><c>--precision</c>: auto takes bfloat16 only on a CPU that computes it natively; an explicit choice stands.</summary>
[Trait("Category", "Fast")]
public sealed class TrainingPrecisionTests
{
    [Theory]
    [InlineData(TrainingPrecision.Auto, false, true, TrainingPrecision.Bf16)]
    [InlineData(TrainingPrecision.Auto, false, false, TrainingPrecision.Fp32)]
    [InlineData(TrainingPrecision.Auto, true, true, TrainingPrecision.Fp32)]
    [InlineData(TrainingPrecision.Fp32, false, true, TrainingPrecision.Fp32)]
    [InlineData(TrainingPrecision.Bf16, false, false, TrainingPrecision.Bf16)]
    internal void Resolve_ByDeviceAndCpu(TrainingPrecision requested, bool cuda, bool cpuHasBFloat16, TrainingPrecision expected) =>
        Assert.Equal(expected, TrainingPrecisions.Resolve(requested, cuda ? new Device(DeviceType.CUDA) : CPU, cpuHasBFloat16));

    [Theory]
    [InlineData("auto", TrainingPrecision.Auto)]
    [InlineData("fp32", TrainingPrecision.Fp32)]
    [InlineData("BF16", TrainingPrecision.Bf16)]
    internal void Parse_CliNames_RoundTrip(string name, TrainingPrecision expected)
    {
        Assert.Equal(expected, TrainingPrecisions.Parse(name));
        Assert.Equal(name.ToLowerInvariant(), TrainingPrecisions.Name(expected));
    }
}
