using System.Diagnostics;
using DogsVsCats.Vision.Trainer.Data;
using DogsVsCats.Vision.Trainer.Models;
using DogsVsCats.Vision.Trainer.Reporting;
using DogsVsCats.Vision.Trainer.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace DogsVsCats.Vision.Trainer.Strategies;

/// <summary>The frozen backbone runs once (cached on disk); only dropout + dense train on the pooled vectors.</summary>
public sealed class FeaturesStrategy : Strategy
{
    public const string StrategyName = "features";

    /// <summary>The head alone, saved by the fit: what <c>finetune</c> starts from.</summary>
    public const string HeadCheckpoint = "best.pt";

    /// <summary>The whole network (backbone + head), for export.</summary>
    public const string ModelCheckpoint = "model.pt";

    public override string Name => StrategyName;

    public override int DefaultEpochs => 40;

    public override StrategyOutcome Run(StrategyContext context, IReadOnlyDictionary<string, StrategyOutcome> dependencies)
    {
        var clock = Stopwatch.StartNew();
#pragma warning disable CA2000 // ownership passes to the outcome Finish returns; the catch below disposes it on failure
        var model = context.NewModel();
#pragma warning restore CA2000
        try
        {
            var (backbone, head) = (model.Backbone, model.Head);
            Freeze(backbone, trainable: null);
            var notes = new List<string>();
            var weights = FeatureCache.WeightsDigest(Backbones.WeightFiles(context.Backbone));
            // One frozen backbone (an ONNX Runtime session) for both splits, built only when a split misses the cache.
            backbone.eval();
            var frozen = new Lazy<FrozenPart>(() => context.Frozen(backbone, FrozenScope.PooledBackbone));
            CachedFeatures train, validation;
            PhaseTiming trainPhase, validationPhase;
            try
            {
                (train, trainPhase) = Features(context, backbone.Info, frozen, weights, context.Train, "train", notes);
                (validation, validationPhase) = Features(context, backbone.Info, frozen, weights, context.Validation, "validation", notes);
            }
            finally
            {
                if (frozen.IsValueCreated)
                {
                    frozen.Value.Dispose();
                }
            }

            using (train.Features)
            using (validation.Features)
            {
                var fit = Fitter.Fit(
                    new FitRequest
                    {
                        Strategy = Name,
                        Module = head,
                        Forward = head.ForwardPooled,
                        SetTrainMode = () => head.train(),
                        Parameters = [.. head.parameters()],
                        Train = train.Source,
                        Validation = validation.Source,
                        LearningRate = context.Settings.LearningRate,
                        Epochs = context.Epochs(this),
                        Augment = false,
                        Directory = context.Directory(this),
                        Unit = "vec",
                    },
                    context.Settings,
                    context.Progress);

                var full = Path.Combine(context.Directory(this), ModelCheckpoint);
                Fitter.Save(model, full);
                return context.Finish(this, model, fit with { Checkpoint = full }, [trainPhase, validationPhase, fit.Train, fit.Validate], clock.Elapsed.TotalSeconds, notes, trainedHead: fit.Checkpoint);
            }
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    private sealed record CachedFeatures(Tensor Features, FeatureBatchSource Source);

    private static (CachedFeatures Cached, PhaseTiming Phase) Features(StrategyContext context, BackboneInfo info, Lazy<FrozenPart> frozenBackbone, string weightsDigest, ImageSet images, string split, List<string> notes)
    {
        var settings = context.Settings;
        var clock = Stopwatch.StartNew();
        var key = FeatureCache.Key(info, weightsDigest, images, context.Classes);
        var path = FeatureCache.PathFor(settings.CacheDirectory, key);
        if (FeatureCache.TryLoad(path, out var loaded, out var labels))
        {
            if (labels.Length == images.Count)
            {
                notes.Add($"{split} features read from cache {path}.");
                context.Progress.Log($"features: {split} features from cache ({labels.Length} vectors).");
                var cached = OnDevice(loaded, settings.Device);
                return (new CachedFeatures(cached, new FeatureBatchSource(cached, labels)), new PhaseTiming($"read cached {split} features", clock.Elapsed.TotalSeconds, labels.Length));
            }

            loaded.Dispose();
        }

        // Each batch's pooled output goes straight into its rows of one preallocated CPU tensor: the set is held once,
        // never also as a managed array (at 24,000 photos each copy is 47 MB).
        var features = empty([images.Count, info.FeatureChannels], ScalarType.Float32);   // [N, D], CPU
        try
        {
            var kept = new List<int>(images.Count);
            var frozen = frozenBackbone.Value;
            using (var task = context.Progress.Start($"features: extract {split} ({frozen.Engine})", images.Count, "img"))
            {
                foreach (var batch in context.Images(images).Read([.. Enumerable.Range(0, images.Count)], settings.BatchSize, augment: false))
                {
                    using var scope = NewDisposeScope();
                    var pooled = frozen.Run(batch.Input);   // [B, D]
                    features.narrow(0, kept.Count, pooled.shape[0]).copy_(pooled);
                    kept.AddRange(batch.Labels.cpu().data<long>().ToArray().Select(l => (int)l));
                    task.Advance(batch.Attempted);
                }
            }

            labels = [.. kept];
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
        return (new CachedFeatures(features, new FeatureBatchSource(features, labels)), new PhaseTiming($"extract {split} features", clock.Elapsed.TotalSeconds, images.Count));
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
