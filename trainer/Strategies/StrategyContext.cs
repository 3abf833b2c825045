using DogsVsCats.Vision.Shared;
using DogsVsCats.Vision.Trainer.Data;
using DogsVsCats.Vision.Trainer.Export;
using DogsVsCats.Vision.Trainer.Models;
using DogsVsCats.Vision.Trainer.Results;
using DogsVsCats.Vision.Trainer.Training;
using TorchSharp;

namespace DogsVsCats.Vision.Trainer.Strategies;

/// <summary>What every strategy of one run shares: the photos (streamed), the backbone, the settings and the run folder.</summary>
internal sealed record StrategyContext(
    ImageSet Train, ImageSet Validation, IReadOnlyList<string> Classes, BackboneSpec Backbone, TrainingSettings Settings, string RunDirectory, IProgressReporter Progress)
{
    private (BackboneSpec Spec, string Digest)? weights;

    /// <summary>
    /// SHA-256 of the backbone's weight files, part of every feature-cache key: hashed once per run (tens of MB), for
    /// every strategy that reads or fills the cache.
    /// </summary>
    public string WeightsDigest
    {
        get
        {
            if (weights is not { } known || known.Spec != Backbone)
            {
                weights = known = (Backbone, FeatureCache.WeightsDigest(Backbones.WeightFiles(Backbone)));
            }

            return known.Digest;
        }
    }

    /// <summary>Pretrained backbone + a new head (seeded), on the run's device.</summary>
    public TransferModel NewModel()
    {
        torch.manual_seed(Settings.Seed);
        var backbone = Backbones.Create(Backbone);
        var model = new TransferModel(backbone, new ClassifierHead(backbone.Info.FeatureChannels, Classes.Count));
        model.to(Settings.Device);
        return model;
    }

    /// <summary>
    /// The frozen part of <paramref name="backbone"/> on the engine of <see cref="TrainingSettings.FrozenEngine"/>,
    /// with TorchSharp's thread count. Create it once the backbone holds its final frozen weights.
    /// </summary>
    public FrozenPart Frozen(Backbone backbone, FrozenScope scope) =>
        FrozenPart.Create(backbone, scope, Settings.FrozenEngine, Settings.Device, torch.get_num_threads());

    public ImageBatchSource Images(ImageSet set) => new(set, Settings.Device);

    /// <summary>--epochs, else the strategy's own default.</summary>
    public int Epochs(Strategy strategy) => Settings.Epochs ?? strategy.DefaultEpochs;

    public string Directory(Strategy strategy) => Path.Combine(RunDirectory, strategy.Name);

    /// <summary>
    /// Describes <paramref name="fit"/>'s checkpoint beside it and hands <paramref name="model"/>, holding the best
    /// epoch's weights, to the outcome (which disposes it).
    /// </summary>
    public StrategyOutcome Finish(Strategy strategy, TransferModel model, FitResult fit, IReadOnlyList<PhaseTiming> phases, double seconds, IReadOnlyList<string> notes, string? trainedHead = null)
    {
        var (trainable, frozen) = Fitter.CountParameters(model);
        var metrics = ClassificationMetrics.Compute(fit.Best.Truth, fit.Best.Predicted, Classes);
        var info = CheckpointInfo.Describe(model.Backbone.Info, Classes, strategy.Name, fit.Best.Loss, fit.Best.Accuracy);
        CheckpointInfo.Save(info, fit.Checkpoint);
        Progress.Log($"{strategy.Name}: best epoch {fit.BestEpoch}, validation loss {fit.Best.Loss:F4}, accuracy {fit.Best.Accuracy:P2}; {trainable:N0} trainable / {frozen:N0} frozen parameters; {seconds:F1} s.");
        var result = new StrategyResult(strategy.Name, fit.BestEpoch, fit.Best.Loss, fit.Best.Accuracy, metrics, fit.Epochs, phases, trainable, frozen, seconds, fit.Checkpoint, notes);
        var predictions = new ValidationPredictions(fit.Best.Logits, Classes.Count, fit.Best.Truth, [.. fit.Best.Indices.Select(i => Validation.Paths[i])]);
        return new StrategyOutcome(result, model, info, trainedHead) { Predictions = predictions };
    }
}

/// <summary>
/// What a strategy produced: its report row, its trained model in memory (the best epoch's weights, what the run
/// exports) with the description written beside its checkpoint, and, for <c>features</c>, the head checkpoint a
/// dependent strategy starts from.
/// </summary>
internal sealed class StrategyOutcome(StrategyResult result, TransferModel model, ModelDescription info, string? trainedHead) : IDisposable
{
    public StrategyResult Result { get; } = result;

    public TransferModel Model { get; } = model;

    /// <summary>What the model's export carries, as written beside its checkpoint.</summary>
    public ModelDescription Info { get; } = info;

    /// <summary>A checkpoint of the head alone (features/best.pt), or null.</summary>
    public string? TrainedHead { get; } = trainedHead;

    /// <summary>The best epoch's logits on every validation photo (plain images, no test-time augmentation).</summary>
    public required ValidationPredictions Predictions { get; init; }

    public void Dispose() => Model.Dispose();
}
