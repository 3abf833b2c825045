using TorchSharp;
using static TorchSharp.torch;

namespace DogsVsCats.Vision.Trainer.Training;

/// <summary>What <c>--device</c> asks for.</summary>
internal enum DeviceRequest
{
    /// <summary>CUDA when TorchSharp sees it, else CPU.</summary>
    Auto,

    Cpu,

    /// <summary>CUDA, or a clear error.</summary>
    Cuda,
}

internal static class DeviceSelection
{
    /// <summary>auto: CUDA when TorchSharp sees it, else CPU (says so once); cuda: CUDA or a clear error; cpu: CPU.</summary>
    public static Device Select(DeviceRequest requested, Action<string> log)
    {
        switch (requested)
        {
            case DeviceRequest.Cpu:
                return CPU;
            case DeviceRequest.Cuda:
                if (!cuda.is_available())
                {
                    throw new InvalidOperationException(
                        "--device cuda was asked for, but TorchSharp sees no CUDA device. Build with -p:TorchBackend=cuda on a machine with an NVIDIA driver (see README), or use --device auto.");
                }

                return CUDA;
            default:
                if (cuda.is_available())
                {
                    log($"Device: CUDA ({cuda.device_count()} GPU(s)).");
                    return CUDA;
                }

                log("Device: CPU (TorchSharp sees no CUDA device; build with -p:TorchBackend=cuda to train on an NVIDIA GPU).");
                return CPU;
        }
    }
}
