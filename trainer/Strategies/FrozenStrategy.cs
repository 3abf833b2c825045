using System.Diagnostics;
using DogsVsCats.Vision.Trainer.Training;

namespace DogsVsCats.Vision.Trainer.Strategies;

/// <summary>Every backbone parameter frozen (BatchNorm in eval mode); a new head learns from augmented images.</summary>
internal sealed class FrozenStrategy : Strategy
{
    public const string StrategyName = "frozen";

    public override string Name => StrategyName;

    public override int DefaultEpochs => 5;

    public override StrategyOutcome Run(StrategyContext context, IReadOnlyDictionary<string, StrategyOutcome> dependencies)
    {
        var clock = Stopwatch.StartNew();
        var model = context.NewModel();
        try
        {
            var (backbone, head) = (model.Backbone, model.Head);
            Freeze(backbone, trainable: []);
            backbone.eval();
            // Every image still passes the whole backbone each epoch (augmented), but the frozen backbone runs on the
            // fastest engine and hands the head its pooled features: the same logits as model.call.
            using var frozen = context.Frozen(backbone, FrozenScope.PooledBackbone);
            var notes = new List<string>();

            // Validation photos are not augmented, so the frozen backbone gives them the same pooled features every
            // epoch: computed once (or read from the cache the features strategy shares), the head alone then
            // validates each epoch.
            var (validation, validationPhase) = PooledFeatures.Load(context, backbone.Info, new Lazy<FrozenPart>(() => frozen), context.Validation, "validation", notes, Name);
            using var validationFeatures = validation.Features;
            var fit = Fitter.Fit(
                new FitRequest
                {
                    Strategy = Name,
                    Module = model,
                    Forward = head.ForwardPooled,
                    TrainForward = images =>
                    {
                        using var pooled = frozen.Run(images);   // [B, D]
                        return head.ForwardPooled(pooled);
                    },
                    SetTrainMode = () =>
                    {
                        model.train();
                        backbone.eval();
                    },
                    Parameters = [.. model.Head.parameters()],
                    Train = context.Images(context.Train),
                    Validation = validation.Source,
                    LearningRate = context.Settings.LearningRate,
                    Epochs = context.Epochs(this),
                    Augment = context.Settings.Augment,
                    Directory = context.Directory(this),
                },
                context.Settings,
                context.Progress);
            notes.Add(context.Settings.Augment ? "Random flip and 80-100 % crop augmentation each epoch." : "Augmentation off (--no-augment).");
            notes.Add($"Frozen backbone run by {frozen.Engine}.");
            return context.Finish(this, model, fit, [validationPhase, fit.Train, fit.Validate], clock.Elapsed.TotalSeconds, notes);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }
}
