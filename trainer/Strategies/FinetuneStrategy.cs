using System.Diagnostics;
using DogsVsCats.Vision.Trainer.Training;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DogsVsCats.Vision.Trainer.Strategies;

/// <summary>Backbone + the features head; the last stage's whole blocks train at a low rate, the rest stays frozen.</summary>
public sealed class FinetuneStrategy : Strategy
{
    public const string StrategyName = "finetune";

    public override string Name => StrategyName;

    public override int DefaultEpochs => 5;

    public override IReadOnlyList<string> DependsOn { get; } = [FeaturesStrategy.StrategyName];

    public override StrategyOutcome Run(StrategyContext context, IReadOnlyDictionary<string, StrategyOutcome> dependencies)
    {
        var featuresHead = dependencies[FeaturesStrategy.StrategyName].TrainedHead
            ?? throw new InvalidOperationException("finetune starts from the head trained by the features strategy, which saved none.");
        var clock = Stopwatch.StartNew();
#pragma warning disable CA2000 // ownership passes to the outcome Finish returns; the catch below disposes it on failure
        var model = context.NewModel();
#pragma warning restore CA2000
        try
        {
            var (backbone, head) = (model.Backbone, model.Head);
            var settings = context.Settings;
            var validation = context.Images(context.Validation);
            var notes = new List<string>();

            // Everything below the last stage stays frozen: it runs on the fastest engine, and only the last stage and
            // the head see gradients. The same logits as model.call.
            backbone.eval();
            using var stem = context.Frozen(backbone, FrozenScope.Stem);
            Tensor Forward(Tensor images)
            {
                using var below = stem.Run(images);   // [B, C, h, w], the last stage's input
                using var features = backbone.LastStage.call(below);
                return head.call(features);
            }

            var before = Fitter.Evaluate(model, Forward, validation, settings.BatchSize, context.Progress, "finetune: before loading head");
            head.load(featuresHead);
            var after = Fitter.Evaluate(model, Forward, validation, settings.BatchSize, context.Progress, "finetune: after loading head");
            var loaded = $"Validation accuracy {before.Accuracy:P2} with a fresh head, {after.Accuracy:P2} (loss {after.Loss:F4}) after loading the features head.";
            context.Progress.Log($"finetune: {loaded}");
            notes.Add(loaded);

            Freeze(backbone, trainable: backbone.LastStage);
            notes.Add($"Unfrozen: {backbone.Info.LastStageName} (whole blocks); every BatchNorm keeps its ImageNet statistics (those of {backbone.Info.LastStageName} train their scale and shift only); the layers below run by {stem.Engine}.");
            var fit = Fitter.Fit(
                new FitRequest
                {
                    Strategy = Name,
                    Module = model,
                    Forward = Forward,
                    SetTrainMode = () =>
                    {
                        model.train();
                        backbone.eval();
                        backbone.LastStage.train();
                        // The last stage's BatchNorm keeps its ImageNet statistics (its scale and shift still train):
                        // re-estimated on augmented batches of 16 they shifted the features under the loaded head.
                        foreach (var norm in backbone.LastStage.modules().OfType<BatchNorm2d>())
                        {
                            norm.eval();
                        }
                    },
                    Parameters = [.. model.parameters().Where(p => p.requires_grad)],
                    Train = context.Images(context.Train),
                    Validation = validation,
                    LearningRate = settings.FinetuneLearningRate,
                    Epochs = context.Epochs(this),
                    Augment = settings.Augment,
                    Directory = context.Directory(this),
                },
                settings,
                context.Progress);
            if (fit.Best.Loss > after.Loss)
            {
                notes.Add($"Fine-tuning did not beat its starting point: best validation loss {fit.Best.Loss:F4} vs {after.Loss:F4} with the features head alone.");
            }

            return context.Finish(this, model, fit, [fit.Train, fit.Validate], clock.Elapsed.TotalSeconds, notes);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }
}
