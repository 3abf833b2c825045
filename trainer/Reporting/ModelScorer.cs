using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using DogsVsCats.Vision.Shared;
using Microsoft.ML.OnnxRuntime;
using OpenCvSharp;

namespace DogsVsCats.Vision.Trainer.Reporting;

/// <summary>One photo as the model file saw it.</summary>
/// <param name="Probabilities">The file's output, in label order.</param>
/// <param name="Cam">The class activation map [h, w] of the predicted class.</param>
public sealed record ScoredPhoto(string Path, int Truth, float[] Probabilities, float[] Cam)
{
    public int Predicted => Calibration.TopIndex(Probabilities);

    public bool Correct => Predicted == Truth;

    public double Loss => Calibration.Loss(Probabilities, Truth);
}

/// <summary>Photos scored by <see cref="ModelScorer"/>, in input order minus the unreadable ones.</summary>
public sealed record ScoredSet(IReadOnlyList<ScoredPhoto> Photos, IReadOnlyList<string> Unreadable, double Seconds);

/// <summary>
/// Runs a model file (the one that ships) on photo files with ONNX Runtime, as the realtime app does: each file is
/// decoded with <see cref="ImageFile"/>, cut and resized with <see cref="ImagePreprocessing"/> straight into a pinned
/// input batch, and one session runs it. What a report says of the model is then what users of the file get.
/// Photos are decoded on a fixed set of threads (<see cref="WorkerThreads"/>), as the prefetch decoder does, for its
/// reason: the thread pool's changing threads each keep a glibc heap of freed photo buffers, and over a long pass (every
/// training photo) the working set crept. At most one batch is decoded at a time, into that batch's input slots.
/// </summary>
public sealed class ModelScorer : IDisposable
{
    /// <summary>The custom metadata key of the temperature folded into the graph before its softmax (absent: none).</summary>
    public const string TemperatureKey = "dogsvscats.temperature";

    public const int DefaultBatchSize = 32;

    private static readonly string[] InputNames = [ModelContract.InputName];
    private static readonly string[] OutputNames = [ModelContract.ProbabilitiesName, ModelContract.CamName];

    private readonly InferenceSession session;
    private readonly WorkerThreads decoder;
    private readonly RunOptions runOptions = new();
    private readonly List<IDisposable> owned = [];
    private readonly byte[] input;   // [B, H, W, 3] BGR, pinned: Mat headers and the OrtValue point into it
    private readonly float[] probabilities;   // [B, C]
    private readonly float[] cams;   // [B, C, h, w]
    private readonly Mat[] slots = [];
    private readonly OrtValue[] inputs = [];
    private readonly OrtValue[] outputs = [];

    /// <param name="decodeThreads">Threads that decode photos; 0 or less = all cores (never more than <paramref name="batchSize"/>).</param>
    public ModelScorer(string modelPath, int batchSize = DefaultBatchSize, int decodeThreads = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        // Every logical core: ONNX Runtime's default counts physical cores only (half the throughput on 2 vCPUs).
        using var options = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            IntraOpNumThreads = Environment.ProcessorCount,
        };
        session = new InferenceSession(modelPath, options);
        try
        {
#pragma warning disable CA2000 // added to 'owned' first, so Dispose stops the threads before the slots they write into go
            decoder = Own(new WorkerThreads(Math.Min(batchSize, decodeThreads <= 0 ? Environment.ProcessorCount : decodeThreads), "score decode"));
#pragma warning restore CA2000
            var metadata = session.ModelMetadata.CustomMetadataMap;
            Description = ModelDescription.FromProperties(metadata, modelPath);
            Temperature = ReadTemperature(metadata, modelPath);
            var cam = session.OutputMetadata.TryGetValue(ModelContract.CamName, out var camMeta) ? camMeta.Dimensions : [];
            if (cam.Length != 4 || cam[2] <= 0 || cam[3] <= 0)
            {
                throw new ModelContractException($"{modelPath} has no output '{ModelContract.CamName}' [N, C, h, w] of a fixed h and w.");
            }

            (CamHeight, CamWidth, BatchSize) = (cam[2], cam[3], batchSize);
            var (height, width, classes) = (Description.InputHeight, Description.InputWidth, Description.Labels.Count);
            var imageBytes = height * width * 3;
            input = GC.AllocateArray<byte>(batchSize * imageBytes, pinned: true);
            probabilities = new float[batchSize * classes];
            cams = new float[batchSize * classes * CamHeight * CamWidth];
#pragma warning disable CA2000 // each is added to 'owned', which Dispose (also on failure below) disposes
            inputs = [Own(OrtValue.CreateTensorValueFromMemory(input, [batchSize, height, width, 3]))];
            outputs =
            [
                Own(OrtValue.CreateTensorValueFromMemory(probabilities, [batchSize, classes])),
                Own(OrtValue.CreateTensorValueFromMemory(cams, [batchSize, classes, CamHeight, CamWidth])),
            ];
            var address = Marshal.UnsafeAddrOfPinnedArrayElement(input, 0);
            slots = [.. Enumerable.Range(0, batchSize).Select(i => Own(Mat.FromPixelData(height, width, MatType.CV_8UC3, address + (i * imageBytes))))];
#pragma warning restore CA2000
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public ModelDescription Description { get; }

    /// <summary>The temperature the file divides its logits by; null when it has none (absent or 1).</summary>
    public double? Temperature { get; }

    public int CamHeight { get; }

    public int CamWidth { get; }

    public int BatchSize { get; }

    public int DecodeThreads => decoder.Count;

    /// <summary>Scores the photos at <paramref name="paths"/> (labels index the model's labels); unreadable files are left out and named.</summary>
    public ScoredSet Score(IReadOnlyList<string> paths, IReadOnlyList<int> labels)
    {
        ArgumentNullException.ThrowIfNull(paths);
        ArgumentNullException.ThrowIfNull(labels);
        if (paths.Count != labels.Count)
        {
            throw new ArgumentException($"{paths.Count} paths but {labels.Count} labels.", nameof(labels));
        }

        var clock = Stopwatch.StartNew();
        var classes = Description.Labels.Count;
        var camSize = CamHeight * CamWidth;
        var scored = new List<ScoredPhoto>(paths.Count);
        var unreadable = new List<string>();
        var readable = new bool[BatchSize];
        for (var start = 0; start < paths.Count; start += BatchSize)
        {
            var count = Math.Min(BatchSize, paths.Count - start);
            // Decoding runs on the decode threads between model runs; a short last batch runs padded (spare slots keep
            // older photos, whose outputs are ignored), so ONNX Runtime sees one input shape only.
            // Every decode ends before the model reads the slots (a failure throws once all have ended).
            decoder.For(count, i => readable[i] = TryDecodeInto(paths[start + i], slots[i]));
            session.Run(runOptions, InputNames, inputs, OutputNames, outputs);
            for (var i = 0; i < count; i++)
            {
                if (!readable[i])
                {
                    unreadable.Add(paths[start + i]);
                    continue;
                }

                var p = probabilities.AsSpan(i * classes, classes).ToArray();
                var top = Calibration.TopIndex(p);
                var cam = cams.AsSpan(((i * classes) + top) * camSize, camSize).ToArray();
                scored.Add(new ScoredPhoto(paths[start + i], labels[start + i], p, cam));
            }
        }

        return new ScoredSet(scored, unreadable, clock.Elapsed.TotalSeconds);
    }

    public void Dispose()
    {
        owned.ForEach(d => d.Dispose());
        owned.Clear();
        runOptions.Dispose();
        session?.Dispose();
    }

    private static double? ReadTemperature(Dictionary<string, string> metadata, string source)
    {
        if (!metadata.TryGetValue(TemperatureKey, out var text) || string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || !double.IsFinite(value) || value <= 0)
        {
            throw new ModelContractException($"{source}: metadata '{TemperatureKey}' = '{text}' is not a number above 0.");
        }

        return value == 1 ? null : value;
    }

    private bool TryDecodeInto(string path, Mat slot)
    {
        if (!ImageFile.TryRead(path, out var bgr, out _))
        {
            return false;
        }

        using (bgr)
        {
            ImagePreprocessing.ResizeInto(bgr, slot, Description.InputWidth, Description.InputHeight);
        }

        return true;
    }

    private T Own<T>(T disposable)
        where T : IDisposable
    {
        owned.Add(disposable);
        return disposable;
    }
}
