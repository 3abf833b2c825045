using System.Diagnostics;
using DogsVsCats.Vision.Shared;
using DogsVsCats.Vision.Shared.Inference;
using OpenCvSharp;

namespace DogsVsCats.Vision.Trainer.Reporting;

/// <summary>One photo as the model file saw it.</summary>
/// <param name="Probabilities">The file's output, in label order.</param>
/// <param name="Cam">The class activation map [h, w] of the predicted class.</param>
internal sealed record ScoredPhoto(string Path, int Truth, float[] Probabilities, float[] Cam)
{
    public int Predicted => ClassProbabilities.TopIndex(Probabilities);

    public bool Correct => Predicted == Truth;

    public double Loss => Calibration.Loss(Probabilities, Truth);
}

/// <summary>Photos scored by <see cref="ModelScorer"/>, in input order minus the unreadable ones.</summary>
internal sealed record ScoredSet(IReadOnlyList<ScoredPhoto> Photos, IReadOnlyList<string> Unreadable, double Seconds);

/// <summary>
/// Runs a model file (the one that ships) on photo files with the realtime app's <see cref="ModelRunner"/>: each file is
/// decoded with <see cref="ImageFile"/>, cut and resized with <see cref="ImagePreprocessing"/> straight into the runner's
/// pinned input slots, and one session runs it. What a report says of the model is then what users of the file get.
/// Photos are decoded on <see cref="WorkerThreads"/> (fixed threads; it says why), at most one batch at a time, into
/// that batch's input slots.
/// </summary>
internal sealed class ModelScorer : IDisposable
{
    public const int DefaultBatchSize = 32;

    private readonly ModelRunner runner;
    private readonly WorkerThreads decoder;

    /// <param name="decodeThreads">Threads that decode photos; 0 or less = all cores (never more than <paramref name="batchSize"/>).</param>
    public ModelScorer(string modelPath, int batchSize = DefaultBatchSize, int decodeThreads = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        runner = new ModelRunner(modelPath);
        try
        {
            decoder = new WorkerThreads(Math.Min(batchSize, decodeThreads <= 0 ? Environment.ProcessorCount : decodeThreads), "score decode");
        }
        catch
        {
            runner.Dispose();
            throw;
        }

        BatchSize = batchSize;
    }

    public ModelDescription Description => runner.Description;

    /// <summary>The temperature the file divides its logits by; null when it has none (absent or 1).</summary>
    public double? Temperature => Description.Temperature == 1 ? null : Description.Temperature;

    public int CamHeight => runner.CamHeight;

    public int CamWidth => runner.CamWidth;

    public int BatchSize { get; }

    public int DecodeThreads => decoder.Count;

    /// <summary>Scores the photos at <paramref name="paths"/> (labels index the model's labels); unreadable files are left out and named.</summary>
    public ScoredSet Score(IReadOnlyList<string> paths, IReadOnlyList<int> labels)
    {
        if (paths.Count != labels.Count)
        {
            throw new ArgumentException($"{paths.Count} paths but {labels.Count} labels.", nameof(labels));
        }

        var clock = Stopwatch.StartNew();
        var scored = new List<ScoredPhoto>(paths.Count);
        var unreadable = new List<string>();
        var readable = new bool[BatchSize];
        for (var start = 0; start < paths.Count; start += BatchSize)
        {
            var count = Math.Min(BatchSize, paths.Count - start);
            // Decoding runs on the decode threads between model runs; a short last batch runs padded in the first
            // batch's buffers. Every decode ends before the model reads the slots (a failure throws once all have ended).
            var slots = runner.InputSlots(count);
            decoder.For(count, i => readable[i] = TryDecodeInto(paths[start + i], slots[i]));
            runner.Run();
            for (var i = 0; i < count; i++)
            {
                if (!readable[i])
                {
                    unreadable.Add(paths[start + i]);
                    continue;
                }

                var p = runner.Probabilities(i);
                var cam = runner.Cam(i, ClassProbabilities.TopIndex(p)).ToArray();
                scored.Add(new ScoredPhoto(paths[start + i], labels[start + i], p, cam));
            }
        }

        return new ScoredSet(scored, unreadable, clock.Elapsed.TotalSeconds);
    }

    public void Dispose()
    {
        // The decode threads stop before the slots they write into go.
        decoder.Dispose();
        runner.Dispose();
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
}
