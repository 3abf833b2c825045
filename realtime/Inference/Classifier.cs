using System.Diagnostics;
using DogsVsCats.Vision.Shared;
using DogsVsCats.Vision.Shared.Inference;
using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;
using OpenCvSharp;

namespace DogsVsCats.Vision.Realtime.Inference;

/// <summary>
/// Runs an exported model.onnx on BGR images for the live view and folder labelling: the shared
/// <see cref="ModelRunner"/> (pinned buffers per batch size, padded short batches, the model's self-description) with
/// what is live-specific here: the device choice and its log lines, the int8 warning, a warm-up run, and one
/// <see cref="Prediction"/> record per image. Not thread-safe, as its runner: callers serialise.
/// </summary>
internal sealed class Classifier : IDisposable
{
    private readonly ModelRunner runner;

    public Classifier(string modelPath, InferenceDevice device, int threads, ILogger logger)
        : this(modelPath, device, threads, logger, CpuInt8.HasDotProduct)
    {
    }

    /// <param name="cpuHasInt8DotProduct">Whether this CPU has int8 dot products (<see cref="CpuInt8"/>), given so the int8 warning can be shown where it has them.</param>
    /// <param name="spinning">
    /// Whether ONNX Runtime's threads spin while they wait for work (its default). Folder labelling turns it off: its
    /// decode threads run beside inference, and a thread that spins holds a core they need (on 2 cores, the int8 model's
    /// folder labelling against the raw model: 0.92 x spinning, 0.93-0.94 x not, medians of 5 rounds of bench label).
    /// </param>
    /// <param name="exactBatches">Each batch runs at its own size, never padded (<see cref="ModelRunner"/>): the server's batches vary in size.</param>
    public Classifier(string modelPath, InferenceDevice device, int threads, ILogger logger, bool cpuHasInt8DotProduct, bool spinning = true, bool exactBatches = false)
    {
        var selected = "CPU";
        runner = new ModelRunner(modelPath, threads, options =>
        {
            selected = SelectDevice(options, device, logger);
            if (!spinning)
            {
                options.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
            }
        }, exactBatches);
        try
        {
            Device = selected;
            if (Description.Quantization is not null)
            {
                WarnInt8(Device, cpuHasInt8DotProduct, logger);
                Device = $"{Device}, {Description.Precision}";
            }

            // The first run pays for kernel selection and memory arenas; doing it here keeps it out of the first frame's latency.
            using var blank = new Mat(Description.InputHeight, Description.InputWidth, MatType.CV_8UC3, Scalar.All(0));
            Classify([blank]);
        }
        catch
        {
            runner.Dispose();
            throw;
        }
    }

    public ModelDescription Description => runner.Description;

    /// <summary>Where the model runs: "CUDA" or "CPU", with ", int8" for an int8 model.</summary>
    public string Device { get; }

    public IReadOnlyList<string> Labels => runner.Labels;

    /// <summary>Height of the class activation maps.</summary>
    public int CamHeight => runner.CamHeight;

    /// <summary>Width of the class activation maps.</summary>
    public int CamWidth => runner.CamWidth;

    /// <summary>
    /// The class activation map [h, w] of image <paramref name="index"/> of the last call, class <paramref name="classIndex"/>;
    /// valid until the next call.
    /// </summary>
    public ReadOnlySpan<float> Cam(int index, int classIndex, out int height, out int width)
    {
        (height, width) = (runner.CamHeight, runner.CamWidth);
        return runner.Cam(index, classIndex);
    }

    /// <summary>Classifies 8UC3 BGR images of any size (each is resized by the shared rule), one result per image.</summary>
    public IReadOnlyList<Prediction> Classify(IReadOnlyList<Mat> images)
    {
        ArgumentOutOfRangeException.ThrowIfZero(images.Count);
        var start = Stopwatch.GetTimestamp();
        var run = runner.Run(images);
        var probabilities = AllProbabilities(images.Count);
        var timings = Timings(run, start);
        var results = new Prediction[images.Count];
        for (var i = 0; i < images.Count; i++)
        {
            results[i] = new Prediction(Labels, probabilities[i], images[i].Width, images[i].Height, images.Count, timings);
        }

        return results;
    }

    /// <summary>
    /// Classifies <paramref name="count"/> images already resized by the shared rule to the model's
    /// <paramref name="width"/> x <paramref name="height"/>: uint8 [N, H, W, 3] BGR bytes, the model's input layout.
    /// </summary>
    public IReadOnlyList<Prediction> ClassifyPixels(ReadOnlySpan<byte> nhwc, int count, int width, int height)
    {
        if ((width, height) != (Description.InputWidth, Description.InputHeight))
        {
            throw new ArgumentException($"The model takes {Description.InputWidth}x{Description.InputHeight} images; got {width}x{height}. Resize with the shared rule ({Description.ResizeRule}, {Description.Interpolation}) first.", nameof(width));
        }

        var start = Stopwatch.GetTimestamp();
        var run = runner.Run(nhwc, count);
        var probabilities = AllProbabilities(count);
        var timings = Timings(run, start);
        var results = new Prediction[count];
        for (var i = 0; i < count; i++)
        {
            results[i] = new Prediction(Labels, probabilities[i], width, height, count, timings);
        }

        return results;
    }

    /// <summary>
    /// As <see cref="ClassifyPixels"/>, for images resized elsewhere by the shared rule (folder labelling's decode
    /// threads): uint8 [N, H, W, 3] BGR at the model's size, one image per entry of <paramref name="sizes"/>, each
    /// prediction with its image's size as read. The preprocess time is <paramref name="resizeMs"/>, what the resizes
    /// took, plus the copy into the input.
    /// </summary>
    public IReadOnlyList<Prediction> ClassifyResized(ReadOnlySpan<byte> nhwc, IReadOnlyList<(int Width, int Height)> sizes, double resizeMs)
    {
        var start = Stopwatch.GetTimestamp();
        var run = runner.Run(nhwc, sizes.Count);
        var probabilities = AllProbabilities(sizes.Count);
        var timings = Timings(run, start) with { PreprocessMs = resizeMs + run.InputMs };
        var results = new Prediction[sizes.Count];
        for (var i = 0; i < sizes.Count; i++)
        {
            results[i] = new Prediction(Labels, probabilities[i], sizes[i].Width, sizes[i].Height, sizes.Count, timings);
        }

        return results;
    }

    /// <summary>
    /// The model's input for a batch of <paramref name="count"/> images, uint8 [N, H, W, 3] BGR at the model's size
    /// (the images already resized by the shared rule), to write in place before <see cref="RunInput"/>.
    /// </summary>
    public Span<byte> Input(int count) => runner.InputBytes(count);

    /// <summary>Runs the batch written through <see cref="Input"/>; read <see cref="Probabilities(int)"/> and <see cref="Cam"/> before the next call.</summary>
    public void RunInput() => runner.Run();

    /// <summary>A copy of the probabilities of image <paramref name="index"/> of the last call, in <see cref="Labels"/> order.</summary>
    public float[] Probabilities(int index) => runner.Probabilities(index);

    public void Dispose() => runner.Dispose();

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

    private static void WarnInt8(string device, bool cpuHasInt8DotProduct, ILogger logger)
    {
        if (device == "CUDA")
        {
            logger.LogWarning("This is an int8 model, made for CPUs; on CUDA the float model (model.onnx) is the faster one.");
        }
        else if (!cpuHasInt8DotProduct)
        {
            logger.LogWarning("This CPU has no int8 dot-product instructions (AVX512-VNNI, AVX-VNNI or Arm dot product): the int8 model may be slower here than the float model.onnx.");
        }
    }

    private static string FirstLine(string text) => text.Split('\n', 2)[0].Trim();

    /// <summary>The call's stage times: the runner's input and inference, then what the call did after the run.</summary>
    private static StageTimings Timings(RunTimings run, long start) =>
        new(run.InputMs, run.InferenceMs, Stopwatch.GetElapsedTime(start).TotalMilliseconds - run.InputMs - run.InferenceMs);

    private float[][] AllProbabilities(int count)
    {
        var probabilities = new float[count][];
        for (var i = 0; i < count; i++)
        {
            probabilities[i] = runner.Probabilities(i);
        }

        return probabilities;
    }
}
