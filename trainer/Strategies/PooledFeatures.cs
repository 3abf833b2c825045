using System.Diagnostics;
using DogsVsCats.Vision.Trainer.Data;
using DogsVsCats.Vision.Trainer.Models;
using DogsVsCats.Vision.Trainer.Results;
using DogsVsCats.Vision.Trainer.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace DogsVsCats.Vision.Trainer.Strategies;

/// <summary>Pooled backbone features [N, D] of one split, held once, and the batches they make.</summary>
internal sealed record CachedFeatures(Tensor Features, FeatureBatchSource Source);

/// <summary>
/// Pooled features of a split through the frozen backbone, shared through the cache by every strategy whose backbone is
/// frozen whole: <c>features</c> trains on them, <c>frozen</c> validates on them (its validation photos are not
/// augmented, so the frozen backbone gives the same vectors every epoch).
/// </summary>
internal static class PooledFeatures
{
    /// <summary>
    /// The pooled features of <paramref name="images"/>: read from the cache when it holds them, else extracted by
    /// <paramref name="frozenBackbone"/> (created on first need) and cached when every photo was read.
    /// </summary>
    public static (CachedFeatures Cached, PhaseTiming Phase) Load(StrategyContext context, BackboneInfo info, Lazy<FrozenPart> frozenBackbone, ImageSet images, string split, List<string> notes, string strategy)
    {
        var settings = context.Settings;
        var clock = Stopwatch.StartNew();
        var key = FeatureCache.Key(info, context.WeightsDigest, images, context.Classes);
        var path = FeatureCache.PathFor(settings.CacheDirectory, key);
        if (FeatureCache.TryLoad(path, out var loaded, out var labels))
        {
            if (labels.Length == images.Count)
            {
                notes.Add($"{split} features read from cache {path}.");
                context.Progress.Log($"{strategy}: {split} features from cache ({labels.Length} vectors).");
                var cached = OnDevice(loaded, settings.Device);
                return (new CachedFeatures(cached, new FeatureBatchSource(cached, labels)), new PhaseTiming($"read cached {split} features", clock.Elapsed.TotalSeconds, labels.Length));
            }

            loaded.Dispose();
            Rebuilding($"it holds {labels.Length} vectors for {images.Count} photos");
        }
        else if (File.Exists(path))
        {
            Rebuilding("it is cut short or is not a features cache");
        }

        // Each batch's pooled output goes straight into its rows of one preallocated CPU tensor: the set is held once,
        // never also as a managed array (at 24,000 photos each copy is 47 MB).
        var features = empty([images.Count, info.FeatureChannels], ScalarType.Float32);   // [N, D], CPU
        var sources = new List<int>(images.Count);   // the photo of each row
        try
        {
            var frozen = frozenBackbone.Value;
            using (var task = context.Progress.Start($"{strategy}: extract {split} ({frozen.Engine})", images.Count, "img"))
            {
                foreach (var batch in context.Images(images).Read([.. Enumerable.Range(0, images.Count)], settings.BatchSize, augment: null))
                {
                    using var scope = NewDisposeScope();
                    var pooled = frozen.Run(batch.Input);   // [B, D]
                    features.narrow(0, sources.Count, pooled.shape[0]).copy_(pooled);
                    sources.AddRange(batch.Indices);
                    task.Advance(batch.Attempted);
                }
            }

            labels = [.. sources.Select(i => images.Labels[i])];
            if (labels.Length < images.Count)
            {
                // A view of the rows filled, no copy: the unread rows (2 KiB a skipped photo at 512 features) stay allocated.
                var read = features.narrow(0, 0, labels.Length);
                features.Dispose();
                features = read;
            }

            if (labels.Length == images.Count)
            {
                FeatureCache.Save(path, features, labels);
                notes.Add($"{split} features extracted and cached at {path}.");
            }
            else
            {
                // The cache is keyed by the checked file list; vectors for fewer photos would not match it next time.
                notes.Add($"{split} features extracted, not cached: {images.Count - labels.Length} photo(s) could not be read during extraction.");
            }
        }
        catch
        {
            features.Dispose();
            throw;
        }

        features = OnDevice(features, settings.Device);
        return (new CachedFeatures(features, new FeatureBatchSource(features, labels, labels.Length == images.Count ? null : [.. sources])), new PhaseTiming($"extract {split} features", clock.Elapsed.TotalSeconds, images.Count));

        // A damaged file is never read: the features are extracted again and the file rewritten whole (atomically).
        void Rebuilding(string why) =>
            context.Progress.Log($"warning: {strategy}: the {split} features cache {path} is damaged ({why}); extracting the features again and rewriting it.");
    }

    /// <summary>Moves a CPU tensor to <paramref name="device"/>, freeing the CPU copy; on the CPU it is the tensor itself.</summary>
    private static Tensor OnDevice(Tensor features, Device device)
    {
        if (device.type == DeviceType.CPU)
        {
            return features;
        }

        using (features)
        {
            return features.to(device);
        }
    }
}
