namespace DogsVsCats.Vision.Realtime.Inference;

/// <summary>Where ONNX Runtime runs the model (--device).</summary>
internal enum InferenceDevice
{
    /// <summary>CUDA when ONNX Runtime can load it, else the CPU (said in one log line).</summary>
    Auto,

    /// <summary>The CPU only.</summary>
    Cpu,

    /// <summary>CUDA, or fail at start.</summary>
    Cuda,
}
