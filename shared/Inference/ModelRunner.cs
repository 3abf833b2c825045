using System.Diagnostics;
using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;
using OpenCvSharp;

namespace DogsVsCats.Vision.Shared.Inference;

/// <summary>Milliseconds of one run's stages: filling the input (resize or copy) and ONNX Runtime's run.</summary>
public readonly record struct RunTimings(double InputMs, double InferenceMs);

/// <summary>
/// Runs an exported model file with ONNX Runtime; the one runner that the realtime app and the trainer's report use,
/// so both get what the file computes. The model describes itself (<see cref="ModelDescription"/>, read once here).
/// Buffers are made once per batch size and reused: images are written straight into the pinned input tensor and ONNX
/// Runtime writes into preallocated output arrays, so a run allocates nothing. A run of fewer images than a batch size
/// already made runs padded in that batch (the spare slots keep older images, whose outputs are ignored), so a short
/// last batch makes neither new buffers nor a new input shape for ONNX Runtime to plan memory for.
/// Not thread-safe: a run overwrites the input slots and the outputs of the run before it, so callers serialise (one
/// owning thread or a lock) and read a run's outputs before the next run.
/// </summary>
public sealed class ModelRunner : IDisposable
{
    private static readonly string[] InputNames = [ModelContract.InputName];
    private static readonly string[] OutputNames = [ModelContract.ProbabilitiesName, ModelContract.CamName];

    private readonly InferenceSession session;
    private readonly RunOptions runOptions = new();
    private readonly Dictionary<int, BatchBuffers> buffers = [];
    private readonly bool exactBatches;
    private (BatchBuffers Batch, int Count)? filling;   // handed out by InputSlots, run by the next Run()
    private (BatchBuffers Batch, int Count)? last;

    /// <param name="threads">ONNX Runtime's threads; 0 or less = every logical core.</param>
    /// <param name="configure">Adds to the session's options before the session is made (an execution provider).</param>
    /// <param name="exactBatches">
    /// Runs each batch at its own size instead of padded in a larger one made before: for callers whose batch sizes
    /// vary run to run (the server's dynamic batches), where padding would compute up to the largest batch for a few
    /// images. Buffers are then made once per size used, at most one set per size up to the largest batch.
    /// </param>
    public ModelRunner(string modelPath, int threads = 0, Action<SessionOptions>? configure = null, bool exactBatches = false)
    {
        this.exactBatches = exactBatches;
        // Every logical core: ONNX Runtime's own default counts physical cores only, which halved the throughput on a
        // 2-vCPU machine (measured with bench label: 43 vs 92 images/s at batch 32).
        using var options = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            IntraOpNumThreads = threads > 0 ? threads : Environment.ProcessorCount,
        };
        configure?.Invoke(options);
        session = new InferenceSession(modelPath, options);
        try
        {
            Description = ModelDescription.FromProperties(session.ModelMetadata.CustomMetadataMap, modelPath);
            var cam = session.OutputMetadata.TryGetValue(ModelContract.CamName, out var camMeta) ? camMeta.Dimensions : [];
            if (!session.InputMetadata.ContainsKey(ModelContract.InputName) || !session.OutputMetadata.ContainsKey(ModelContract.ProbabilitiesName)
                || cam.Length != 4 || cam[2] <= 0 || cam[3] <= 0)
            {
                throw new ModelContractException($"{modelPath} lacks input '{ModelContract.InputName}' or outputs '{ModelContract.ProbabilitiesName}' / '{ModelContract.CamName}' [N, C, h, w] of a fixed h and w. Export it with 'trainer export'.");
            }

            (CamHeight, CamWidth) = (cam[2], cam[3]);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public ModelDescription Description { get; }

    public IReadOnlyList<string> Labels => Description.Labels;

    public int CamHeight { get; }

    public int CamWidth { get; }

    /// <summary>The batch size the last run computed, its padding included (0 before the first run).</summary>
    public int LastRunSize => last?.Batch.Size ?? 0;

    /// <summary>Bytes of one image in the input: height x width x 3 (BGR).</summary>
    public int ImageBytes => Description.InputHeight * Description.InputWidth * 3;

    /// <summary>
    /// The input slots for a batch of <paramref name="count"/> images: 8UC3 Mats of the model's size over the pinned input.
    /// Write one image into each (from any thread), then call <see cref="Run()"/>.
    /// </summary>
    public IReadOnlyList<Mat> InputSlots(int count) => new ArraySegment<Mat>(Fill(count).Slots, 0, count);

    /// <summary>
    /// The input of a batch of <paramref name="count"/> images as bytes, uint8 [N, H, W, 3] BGR at the model's size:
    /// write each image's pixels in place, then call <see cref="Run()"/>.
    /// </summary>
    public Span<byte> InputBytes(int count) => Fill(count).Input.AsSpan(0, count * ImageBytes);

    /// <summary>Runs the batch whose slots or bytes <see cref="InputSlots"/> or <see cref="InputBytes"/> handed out last.</summary>
    public void Run()
    {
        var (batch, count) = filling ?? throw new InvalidOperationException("No input to run: call InputSlots first.");
        filling = null;
        session.Run(runOptions, InputNames, batch.Inputs, OutputNames, batch.Outputs);
        last = (batch, count);
    }

    /// <summary>Runs 8UC3 BGR images of any size, each resized into its slot by <see cref="ImagePreprocessing"/>.</summary>
    public RunTimings Run(IReadOnlyList<Mat> images)
    {
        ArgumentNullException.ThrowIfNull(images);
        var start = Stopwatch.GetTimestamp();
        var batch = Fill(images.Count);
        for (var i = 0; i < images.Count; i++)
        {
            // Writes into the pinned input tensor through a Mat header over its slice: no copy after the resize.
            ImagePreprocessing.ResizeInto(images[i], batch.Slots[i], Description.InputWidth, Description.InputHeight);
        }

        return Timed(start);
    }

    /// <summary>
    /// Runs <paramref name="count"/> images already at the model's size: uint8 [N, H, W, 3] BGR, the input tensor's own
    /// layout (what a client that resized with the shared rule sends), copied into the pinned input.
    /// </summary>
    public RunTimings Run(ReadOnlySpan<byte> nhwc, int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        var expected = (long)count * ImageBytes;
        if (nhwc.Length != expected)
        {
            throw new ArgumentException($"{count} images of {Description.InputWidth}x{Description.InputHeight} BGR are {expected} bytes; got {nhwc.Length}.", nameof(nhwc));
        }

        var start = Stopwatch.GetTimestamp();
        nhwc.CopyTo(Fill(count).Input);
        return Timed(start);
    }

    /// <summary>A copy of the probabilities of image <paramref name="index"/> of the last run, in label order.</summary>
    public float[] Probabilities(int index)
    {
        var batch = Output(index);
        var classes = Labels.Count;
        return batch.Probabilities.AsSpan(index * classes, classes).ToArray();
    }

    /// <summary>
    /// The class activation map [h, w] (<see cref="CamHeight"/> x <see cref="CamWidth"/>) of image
    /// <paramref name="index"/> of the last run, class <paramref name="classIndex"/>; valid until the next run.
    /// </summary>
    public ReadOnlySpan<float> Cam(int index, int classIndex)
    {
        var batch = Output(index);
        ArgumentOutOfRangeException.ThrowIfNegative(classIndex);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(classIndex, Labels.Count);
        var size = CamHeight * CamWidth;
        return batch.Cam.AsSpan(((index * Labels.Count) + classIndex) * size, size);
    }

    public void Dispose()
    {
        foreach (var batch in buffers.Values)
        {
            batch.Dispose();
        }

        buffers.Clear();
        (filling, last) = (null, null);
        runOptions.Dispose();
        session?.Dispose();
    }

    private RunTimings Timed(long start)
    {
        var input = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        Run();
        return new RunTimings(input, Stopwatch.GetElapsedTime(start).TotalMilliseconds - input);
    }

    private BatchBuffers Output(int index)
    {
        var (batch, count) = last ?? throw new InvalidOperationException("No image has been run yet.");
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, count);
        return batch;
    }

    /// <summary>
    /// The smallest batch made so far that holds <paramref name="count"/> images (with exact batches, the one of that
    /// size; a new one only when none does), next to run.
    /// </summary>
    private BatchBuffers Fill(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        BatchBuffers? fits = null;
        if (exactBatches)
        {
            buffers.TryGetValue(count, out fits);
        }
        else
        {
            foreach (var (made, buffer) in buffers)
            {
                fits = made >= count && made < (fits?.Size ?? int.MaxValue) ? buffer : fits;
            }
        }

        if (fits is null)
        {
            fits = new BatchBuffers(count, Description.InputHeight, Description.InputWidth, Labels.Count, CamHeight, CamWidth);
            buffers.Add(count, fits);
        }

        filling = (fits, count);
        return fits;
    }

    /// <summary>Input and output memory for one batch size, shared with ONNX Runtime and OpenCV for the runner's life.</summary>
    private sealed class BatchBuffers : IDisposable
    {
        public BatchBuffers(int size, int height, int width, int classes, int camHeight, int camWidth)
        {
            Size = size;
            var imageBytes = height * width * 3;
            Input = GC.AllocateArray<byte>(size * imageBytes, pinned: true);
            Probabilities = new float[size * classes];                     // [N, C]
            Cam = new float[size * classes * camHeight * camWidth];          // [N, C, h, w]
            // Created one by one: if one fails, those made before it are disposed here, as no Dispose will run.
            var made = new List<IDisposable>();
            try
            {
#pragma warning disable CA2000 // each is owned by this object (Dispose), or disposed in the catch below if a later one fails
                Inputs = [Made(OrtValue.CreateTensorValueFromMemory(Input, [size, height, width, 3]))];
                Outputs =
                [
                    Made(OrtValue.CreateTensorValueFromMemory(Probabilities, [size, classes])),
                    Made(OrtValue.CreateTensorValueFromMemory(Cam, [size, classes, camHeight, camWidth])),
                ];
#pragma warning restore CA2000
                // The array is pinned for its whole life, so its address is stable for the Mat headers.
                var address = Marshal.UnsafeAddrOfPinnedArrayElement(Input, 0);
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

        /// <summary>[N, H, W, 3] BGR, pinned so the Mat headers and the OrtValue can point into it.</summary>
        public byte[] Input { get; }

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
