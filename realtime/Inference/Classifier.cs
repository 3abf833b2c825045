using System.Diagnostics;
using System.Runtime.InteropServices;
using DogsVsCats.Vision.Shared;
using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;
using OpenCvSharp;

namespace DogsVsCats.Vision.Realtime.Inference;

/// <summary>
/// Runs an exported model.onnx on BGR images. The model describes itself (labels, input size, resize rule) in its
/// metadata, so nothing else is configured. Buffers are made once per batch size and reused: the resize writes
/// straight into the pinned input tensor and ONNX Runtime writes into preallocated output arrays, so a call allocates
/// only its result records. A call with fewer images than a batch size already made runs padded in that batch (the
/// spare slots keep older images, whose results are ignored), so a folder's last batch, or one short of its unreadable
/// files, makes neither new buffers nor a new input shape for ONNX Runtime to plan memory for.
/// </summary>
public sealed class Classifier : IDisposable
{
    private static readonly string[] InputNames = [ModelContract.InputName];
    private static readonly string[] OutputNames = [ModelContract.ProbabilitiesName, ModelContract.CamName];

    private readonly InferenceSession session;
    private readonly RunOptions runOptions = new();
    private readonly Dictionary<int, BatchBuffers> buffers = [];
    private readonly int camHeight;
    private readonly int camWidth;
    private BatchBuffers? last;

    public Classifier(string modelPath, InferenceDevice device, int threads, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(logger);
        // 0 means every logical core: ONNX Runtime's own default counts physical cores only, which halved the
        // throughput on a 2-vCPU machine (measured with bench label: 43 vs 92 images/s at batch 32).
        using var options = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            IntraOpNumThreads = threads > 0 ? threads : Environment.ProcessorCount,
        };
        Device = SelectDevice(options, device, logger);
        session = new InferenceSession(modelPath, options);
        try
        {
            Description = ModelDescription.FromProperties(session.ModelMetadata.CustomMetadataMap, modelPath);
            if (Description.Quantization is not null)
            {
                WarnInt8(Device, logger);
                Device = $"{Device}, {Description.Precision}";
            }

            var cam = session.OutputMetadata.TryGetValue(ModelContract.CamName, out var camMeta) ? camMeta.Dimensions : [];
            if (!session.InputMetadata.ContainsKey(ModelContract.InputName) || !session.OutputMetadata.ContainsKey(ModelContract.ProbabilitiesName) || cam.Length != 4)
            {
                throw new ModelContractException($"{modelPath} lacks input '{ModelContract.InputName}' or outputs '{ModelContract.ProbabilitiesName}' / '{ModelContract.CamName}' [N, C, h, w]. Export it with 'trainer export'.");
            }

            (camHeight, camWidth) = (cam[2], cam[3]);
            // The first run pays for kernel selection and memory arenas; doing it here keeps it out of the first frame's latency.
            using var blank = new Mat(Description.InputHeight, Description.InputWidth, MatType.CV_8UC3, Scalar.All(0));
            Classify([blank]);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public ModelDescription Description { get; }

    /// <summary>Where the model runs: "CUDA" or "CPU", with ", int8" for an int8 model.</summary>
    public string Device { get; }

    public IReadOnlyList<string> Labels => Description.Labels;

    /// <summary>
    /// The class activation map [h, w] of image <paramref name="index"/> of the last call, class <paramref name="classIndex"/>;
    /// valid until the next call.
    /// </summary>
    public ReadOnlySpan<float> Cam(int index, int classIndex, out int height, out int width)
    {
        var batch = last ?? throw new InvalidOperationException("No image has been classified yet.");
        (height, width) = (camHeight, camWidth);
        var size = camHeight * camWidth;
        return batch.Cam.AsSpan(((index * Labels.Count) + classIndex) * size, size);
    }

    /// <summary>Classifies 8UC3 BGR images of any size (each is resized by the shared rule), one result per image.</summary>
    public IReadOnlyList<Prediction> Classify(IReadOnlyList<Mat> images)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentOutOfRangeException.ThrowIfZero(images.Count);
        var batch = Buffers(images.Count);
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < images.Count; i++)
        {
            // Writes into the pinned input tensor through a Mat header over its slice: no copy after the resize.
            ImagePreprocessing.ResizeInto(images[i], batch.Slots[i], Description.InputWidth, Description.InputHeight);
        }

        var preprocess = clock.Elapsed.TotalMilliseconds;
        session.Run(runOptions, InputNames, batch.Inputs, OutputNames, batch.Outputs);
        var inference = clock.Elapsed.TotalMilliseconds - preprocess;

        var classes = Labels.Count;
        var probabilities = new float[images.Count][];
        for (var i = 0; i < images.Count; i++)
        {
            probabilities[i] = batch.Probabilities.AsSpan(i * classes, classes).ToArray();
        }

        last = batch;
        var timings = new StageTimings(preprocess, inference, clock.Elapsed.TotalMilliseconds - preprocess - inference);
        var results = new Prediction[images.Count];
        for (var i = 0; i < images.Count; i++)
        {
            results[i] = new Prediction(Labels, probabilities[i], images[i].Width, images[i].Height, images.Count, timings);
        }

        return results;
    }

    public void Dispose()
    {
        foreach (var batch in buffers.Values)
        {
            batch.Dispose();
        }

        buffers.Clear();
        runOptions.Dispose();
        session?.Dispose();
    }

    private static string SelectDevice(SessionOptions options, InferenceDevice device, ILogger logger)
    {
        if (device == InferenceDevice.Cpu)
        {
            return "CPU";
        }

        // ONNX Runtime also prints its own multi-line error when CUDA fails to load; the one line below says it better.
        var environment = OrtEnv.Instance();
        var level = environment.EnvLogLevel;
        environment.EnvLogLevel = device == InferenceDevice.Cuda ? level : OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL;
        try
        {
            options.AppendExecutionProvider_CUDA(0);
            return "CUDA";
        }
        catch (Exception e) when (e is OnnxRuntimeException or DllNotFoundException or EntryPointNotFoundException)
        {
            // GetAvailableProviders() lists CUDA even where its libraries cannot load, so trying is the only real test.
            if (device == InferenceDevice.Cuda)
            {
                throw new InvalidOperationException($"--device cuda: ONNX Runtime cannot use CUDA here ({FirstLine(e.Message)}). Install CUDA 13 and cuDNN 9, or use --device auto|cpu.", e);
            }

            logger.LogInformation("Device: CPU (ONNX Runtime cannot load CUDA: {Reason}).", FirstLine(e.Message));
            return "CPU";
        }
        finally
        {
            environment.EnvLogLevel = level;
        }
    }

    private static void WarnInt8(string device, ILogger logger)
    {
        if (device == "CUDA")
        {
            logger.LogWarning("This is an int8 model, made for CPUs; on CUDA the float model (model.onnx) is the faster one.");
        }
        else if (!CpuInt8.HasDotProduct)
        {
            logger.LogWarning("This CPU has no int8 dot-product instructions (AVX512-VNNI, AVX-VNNI or Arm dot product): the int8 model may be slower here than the float model.onnx.");
        }
    }

    private static string FirstLine(string text) => text.Split('\n', 2)[0].Trim();

    /// <summary>The smallest batch made so far that holds <paramref name="size"/> images; a new one only when none does.</summary>
    private BatchBuffers Buffers(int size)
    {
        BatchBuffers? fits = null;
        foreach (var (made, buffer) in buffers)
        {
            fits = made >= size && made < (fits?.Size ?? int.MaxValue) ? buffer : fits;
        }

        if (fits is not null)
        {
            return fits;
        }

        var batch = new BatchBuffers(size, Description.InputHeight, Description.InputWidth, Labels.Count, camHeight, camWidth);
        buffers.Add(size, batch);
        return batch;
    }

    /// <summary>Input and output memory for one batch size, shared with ONNX Runtime and OpenCV for the classifier's life.</summary>
    private sealed class BatchBuffers : IDisposable
    {
        private readonly byte[] input;   // [N, H, W, 3] BGR, pinned so Mat headers and the OrtValue can point into it

        public BatchBuffers(int size, int height, int width, int classes, int camHeight, int camWidth)
        {
            Size = size;
            var imageBytes = height * width * 3;
            input = GC.AllocateArray<byte>(size * imageBytes, pinned: true);
            Probabilities = new float[size * classes];                     // [N, C]
            Cam = new float[size * classes * camHeight * camWidth];          // [N, C, h, w]
            // Created one by one: if one fails, those made before it are disposed here, as no Dispose will run.
            var made = new List<IDisposable>();
            try
            {
#pragma warning disable CA2000 // each is owned by this object (Dispose), or disposed in the catch below if a later one fails
                Inputs = [Made(OrtValue.CreateTensorValueFromMemory(input, [size, height, width, 3]))];
                Outputs =
                [
                    Made(OrtValue.CreateTensorValueFromMemory(Probabilities, [size, classes])),
                    Made(OrtValue.CreateTensorValueFromMemory(Cam, [size, classes, camHeight, camWidth])),
                ];
#pragma warning restore CA2000
                // The array is pinned for its whole life, so its address is stable for the Mat headers.
                var address = Marshal.UnsafeAddrOfPinnedArrayElement(input, 0);
                Slots = Enumerable.Range(0, size)
                    .Select(i => Made(Mat.FromPixelData(height, width, MatType.CV_8UC3, address + (i * imageBytes))))
                    .ToArray();
            }
            catch
            {
                made.ForEach(d => d.Dispose());
                throw;
            }

            T Made<T>(T disposable)
                where T : IDisposable
            {
                made.Add(disposable);
                return disposable;
            }
        }

        public int Size { get; }

        public Mat[] Slots { get; }

        public float[] Probabilities { get; }

        public float[] Cam { get; }

        public OrtValue[] Inputs { get; }

        public OrtValue[] Outputs { get; }

        public void Dispose()
        {
            foreach (var disposable in Slots.Cast<IDisposable>().Concat(Inputs).Concat(Outputs))
            {
                disposable.Dispose();
            }
        }
    }
}
