using System.Diagnostics;
using DogsVsCats.Vision.Trainer.Data;
using DogsVsCats.Vision.Trainer.Export;
using DogsVsCats.Vision.Trainer.Models;
using DogsVsCats.Vision.Trainer.Reporting;
using DogsVsCats.Vision.Trainer.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace DogsVsCats.Vision.Trainer.Strategies;

/// <summary>Decoded train and validation images with the split they came from.</summary>
public sealed record TrainingData(DatasetSplit Split, ImageSet Train, ImageSet Validation, IReadOnlyList<SkippedFile> Skipped);

/// <summary>The study's three ways to reuse a pretrained backbone, on one dataset, each in its own folder of the run.</summary>
public sealed class StrategyRunner(TrainingData data, BackboneSpec backboneSpec, TrainingSettings settings, string runDirectory, IProgressReporter progress)
{
    private string? featuresHead;

    public IReadOnlyList<string> Classes => data.Split.Classes;

    public StrategyResult Run(string strategy) => strategy switch
    {
        StrategyNames.Frozen => RunFrozen(),
        StrategyNames.Features => RunFeatures(),
        StrategyNames.Finetune => RunFinetune(),
        _ => throw new ArgumentException($"Unknown strategy '{strategy}'."),
    };

    /// <summary>Every backbone parameter frozen (BatchNorm in eval mode); a new head learns from augmented images.</summary>
    public StrategyResult RunFrozen()
    {
        var clock = Stopwatch.StartNew();
        using var model = NewModel(out var backbone, out var head);
        Freeze(backbone, trainable: null);
        var fit = Fitter.Fit(
            new FitRequest
            {
                Strategy = StrategyNames.Frozen,
                Module = model,
                Forward = model.call,
                SetTrainMode = () =>
                {
                    model.train();
                    backbone.eval();
                },
                Parameters = [.. head.parameters()],
                Train = Images(data.Train),
                Validation = Images(data.Validation),
                LearningRate = settings.LearningRate,
                Epochs = Epochs(StrategyNames.Frozen),
                Augment = settings.Augment,
                Directory = StrategyDirectory(StrategyNames.Frozen),
            },
            settings,
            progress);
        var notes = new List<string> { settings.Augment ? "Random flip and 80-100 % crop augmentation each epoch." : "Augmentation off (--no-augment)." };
        return Result(StrategyNames.Frozen, model, fit, [fit.Train, fit.Validate], clock.Elapsed.TotalSeconds, notes);
    }

    /// <summary>The frozen backbone runs once (cached on disk); only dropout + dense train on the pooled vectors.</summary>
    public StrategyResult RunFeatures()
    {
        var clock = Stopwatch.StartNew();
        using var model = NewModel(out var backbone, out var head);
        Freeze(backbone, trainable: null);
        var notes = new List<string>();
        var weights = FeatureCache.WeightsDigest(Backbones.WeightFiles(backboneSpec));
        var (train, trainPhase) = Features(backbone, weights, data.Train, "train", notes);
        var (validation, validationPhase) = Features(backbone, weights, data.Validation, "validation", notes);
        using (train.Features)
        using (validation.Features)
        {
            var fit = Fitter.Fit(
                new FitRequest
                {
                    Strategy = StrategyNames.Features,
                    Module = head,
                    Forward = head.ForwardPooled,
                    SetTrainMode = () => head.train(),
                    Parameters = [.. head.parameters()],
                    Train = train.Source,
                    Validation = validation.Source,
                    LearningRate = settings.LearningRate,
                    Epochs = Epochs(StrategyNames.Features),
                    Augment = false,
                    Directory = StrategyDirectory(StrategyNames.Features),
                    Unit = "vec",
                },
                settings,
                progress);

            // best.pt holds the head alone (what finetune starts from); model.pt the whole network for export.
            featuresHead = fit.Checkpoint;
            var full = Path.Combine(StrategyDirectory(StrategyNames.Features), "model.pt");
            Fitter.Save(model, full);
            return Result(StrategyNames.Features, model, fit with { Checkpoint = full }, [trainPhase, validationPhase, fit.Train, fit.Validate], clock.Elapsed.TotalSeconds, notes);
        }
    }

    /// <summary>Backbone + the features head; the last stage's whole blocks train at a low rate, the rest stays frozen.</summary>
    public StrategyResult RunFinetune()
    {
        if (featuresHead is null)
        {
            throw new InvalidOperationException("finetune starts from the head trained by the features strategy: run features first.");
        }

        var clock = Stopwatch.StartNew();
        using var model = NewModel(out var backbone, out var head);
        var validation = Images(data.Validation);
        var notes = new List<string>();
        var before = Fitter.Evaluate(model, model.call, validation, settings.BatchSize, progress, "finetune: before loading head");
        head.load(featuresHead);
        var after = Fitter.Evaluate(model, model.call, validation, settings.BatchSize, progress, "finetune: after loading head");
        var loaded = $"Validation accuracy {before.Accuracy:P2} with a fresh head, {after.Accuracy:P2} (loss {after.Loss:F4}) after loading the features head.";
        progress.Log($"finetune: {loaded}");
        notes.Add(loaded);

        Freeze(backbone, trainable: backbone.LastStage);
        notes.Add($"Unfrozen: {backbone.Info.LastStageName} (whole blocks); frozen BatchNorm kept in eval mode.");
        var fit = Fitter.Fit(
            new FitRequest
            {
                Strategy = StrategyNames.Finetune,
                Module = model,
                Forward = model.call,
                SetTrainMode = () =>
                {
                    model.train();
                    backbone.eval();
                    backbone.LastStage.train();
                },
                Parameters = [.. model.parameters().Where(p => p.requires_grad)],
                Train = Images(data.Train),
                Validation = validation,
                LearningRate = settings.FinetuneLearningRate,
                Epochs = Epochs(StrategyNames.Finetune),
                Augment = settings.Augment,
                Directory = StrategyDirectory(StrategyNames.Finetune),
            },
            settings,
            progress);
        if (fit.Best.Loss > after.Loss)
        {
            notes.Add($"Fine-tuning did not beat its starting point: best validation loss {fit.Best.Loss:F4} vs {after.Loss:F4} with the features head alone.");
        }

        return Result(StrategyNames.Finetune, model, fit, [fit.Train, fit.Validate], clock.Elapsed.TotalSeconds, notes);
    }

    /// <summary>Sets requires_grad: false for the whole backbone except <paramref name="trainable"/>.</summary>
    public static void Freeze(Backbone backbone, nn.Module? trainable)
    {
        foreach (var p in backbone.parameters())
        {
            p.requires_grad = false;
        }

        foreach (var p in trainable?.parameters() ?? [])
        {
            p.requires_grad = true;
        }
    }

    private TransferModel NewModel(out Backbone backbone, out ClassifierHead head)
    {
        torch.manual_seed(settings.Seed);
        backbone = Backbones.Create(backboneSpec);
        head = new ClassifierHead(backbone.Info.FeatureChannels, Classes.Count);
        var model = new TransferModel(backbone, head);
        model.to(settings.Device);
        return model;
    }

    private ImageBatchSource Images(ImageSet set) => new(set, settings.Device, new Random(settings.Seed));

    private int Epochs(string strategy) => settings.Epochs ?? StrategyNames.DefaultEpochs(strategy);

    private string StrategyDirectory(string strategy) => Path.Combine(runDirectory, strategy);

    private sealed record CachedFeatures(Tensor Features, FeatureBatchSource Source);

    private (CachedFeatures Cached, PhaseTiming Phase) Features(Backbone backbone, string weightsDigest, ImageSet images, string split, List<string> notes)
    {
        var clock = Stopwatch.StartNew();
        var key = FeatureCache.Key(backbone.Info, weightsDigest, images, Classes);
        var path = FeatureCache.PathFor(settings.CacheDirectory, key);
        if (FeatureCache.TryLoad(path, out var vectors, out var dimension, out var labels) && labels.Length == images.Count)
        {
            notes.Add($"{split} features read from cache {path}.");
            progress.Log($"features: {split} features from cache ({labels.Length} vectors).");
            var cached = tensor(vectors, [labels.Length, dimension], device: settings.Device);
            return (new CachedFeatures(cached, new FeatureBatchSource(cached, labels)), new PhaseTiming($"read cached {split} features", clock.Elapsed.TotalSeconds, labels.Length));
        }

        dimension = backbone.Info.FeatureChannels;
        vectors = new float[images.Count * dimension];
        backbone.eval();
        using (var noGrad = no_grad())
        using (var task = progress.Start($"features: extract {split}", images.Count, "img"))
        {
            var order = Enumerable.Range(0, images.Count).ToArray();
            for (var start = 0; start < images.Count; start += settings.BatchSize)
            {
                using var scope = NewDisposeScope();
                var indices = order.AsSpan(start, Math.Min(settings.BatchSize, images.Count - start));
                var input = Batches.Images(images, indices, settings.Device);
                var pooled = backbone.call(input).mean([2, 3]).cpu();   // [B, D]
                pooled.data<float>().CopyTo(vectors, start * dimension);
                task.Advance(indices.Length);
            }
        }

        FeatureCache.Save(path, vectors, dimension, images.Labels);
        notes.Add($"{split} features extracted and cached at {path}.");
        var features = tensor(vectors, [images.Count, dimension], device: settings.Device);
        return (new CachedFeatures(features, new FeatureBatchSource(features, images.Labels)), new PhaseTiming($"extract {split} features", clock.Elapsed.TotalSeconds, images.Count));
    }

    private StrategyResult Result(string strategy, nn.Module model, FitResult fit, IReadOnlyList<PhaseTiming> phases, double seconds, List<string> notes)
    {
        var (trainable, frozen) = Fitter.CountParameters(model);
        var metrics = ClassificationMetrics.Compute(fit.Best.Truth, fit.Best.Predicted, Classes);
        new CheckpointInfo(backboneSpec.Name, Classes, strategy, fit.Best.Loss, fit.Best.Accuracy, DateTimeOffset.Now).Save(fit.Checkpoint);
        progress.Log($"{strategy}: best epoch {fit.BestEpoch}, validation loss {fit.Best.Loss:F4}, accuracy {fit.Best.Accuracy:P2}; {trainable:N0} trainable / {frozen:N0} frozen parameters; {seconds:F1} s.");
        return new StrategyResult(strategy, fit.BestEpoch, fit.Best.Loss, fit.Best.Accuracy, metrics, fit.Epochs, phases, trainable, frozen, seconds, fit.Checkpoint, notes);
    }
}
