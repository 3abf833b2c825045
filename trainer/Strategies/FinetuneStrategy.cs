using System.Diagnostics;
using DogsVsCats.Vision.Trainer.Models;
using DogsVsCats.Vision.Trainer.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DogsVsCats.Vision.Trainer.Strategies;

/// <summary>Backbone + the features head; the last stage's whole blocks (or the <c>--unfreeze</c> ones) train at a low rate, the rest stays frozen.</summary>
internal sealed class FinetuneStrategy : Strategy
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

            // Everything below the lowest unfrozen block stays frozen: it runs on the fastest engine, and only the
            // unfrozen blocks and the head see gradients. The same logits as model.call.
            var unfrozen = settings.Unfreeze ?? [backbone.Info.LastStageName];
            var lowest = unfrozen.Min(backbone.BlockIndex);
            backbone.eval();
            using var stem = context.Frozen(backbone, FrozenScope.Below(backbone.Info.BlockNames[lowest]));
            Tensor Through(Func<Tensor, Tensor> upper, Tensor images)
            {
                using var below = stem.Run(images);   // [B, C, h, w], the lowest unfrozen block's input
                using var features = upper(below);
                return head.call(features);
            }

            Tensor Forward(Tensor images) => Through(below => backbone.ForwardFrom(below, lowest), images);

            var before = Fitter.Evaluate(model, Forward, validation, settings.BatchSize, context.Progress, "finetune: before loading head");
            head.load(featuresHead);
            var after = Fitter.Evaluate(model, Forward, validation, settings.BatchSize, context.Progress, "finetune: after loading head");
            var loaded = $"Validation accuracy {before.Accuracy:P2} with a fresh head, {after.Accuracy:P2} (loss {after.Loss:F4}) after loading the features head.";
            context.Progress.Log($"finetune: {loaded}");
            notes.Add(loaded);

            var trainable = Unfreeze(backbone, unfrozen);
            var names = string.Join(", ", unfrozen);
            var precision = TrainingPrecisions.Resolve(settings.Precision, settings.Device, TrainingPrecisions.CpuHasBFloat16);
            using var bf16 = precision == TrainingPrecision.Bf16 ? new BFloat16Blocks(backbone, lowest) : null;

            notes.Add(bf16 is null
                ? "Training steps in float32."
                : $"Training steps of {string.Join(", ", backbone.Info.BlockNames.Skip(lowest))} in bfloat16 (forward and backward) on float32 weights: updates, evaluation, checkpoints and the export are float32 (--precision {TrainingPrecisions.Name(settings.Precision)}).");
            context.Progress.Log($"finetune: {notes[^1]}");
            notes.Add($"Unfrozen: {names} (whole blocks); every BatchNorm keeps its ImageNet statistics (those of {names} train their scale and shift only); the layers below run by {stem.Engine}.");
            var schedule = new LearningRateSchedule(settings.FinetuneSchedule, settings.Decay, settings.WarmupEpochs);
            notes.Add($"Rates: {settings.FinetuneLearningRate:g3} for {names}, {settings.FinetuneHeadLearningRate ?? settings.FinetuneLearningRate:g3} for the head; schedule {(schedule.Kind == ScheduleKind.Keras ? $"Keras decay {settings.Decay:g3} per step" : $"cosine per step after {settings.WarmupEpochs:g3} warm-up epoch(s)")}.");
            var fit = Fitter.Fit(
                new FitRequest
                {
                    Strategy = Name,
                    Module = model,
                    Forward = Forward,
                    TrainForward = bf16 is null ? null : images => Through(bf16.Forward, images),
                    BeforeStep = bf16 is null ? null : bf16.MoveGradients,
                    SetTrainMode = () =>
                    {
                        model.train();
                        backbone.eval();
                        foreach (var block in trainable)
                        {
                            block.train();
                            // The unfrozen blocks' BatchNorm keeps its ImageNet statistics (scale and shift still
                            // train): re-estimated on augmented batches of 16 they shifted the features under the
                            // loaded head.
                            foreach (var norm in block.modules().OfType<BatchNorm2d>())
                            {
                                norm.eval();
                            }
                        }
                    },
                    Parameters = [.. backbone.parameters().Where(p => p.requires_grad)],
                    OtherGroups = [new RateGroup([.. head.parameters()], settings.FinetuneHeadLearningRate ?? settings.FinetuneLearningRate)],
                    Schedule = schedule,
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

    /// <summary>Freezes the whole backbone but the named blocks (checked names, see Backbones.UnfreezeProblem); returns those blocks.</summary>
    public static IReadOnlyList<nn.Module<Tensor, Tensor>> Unfreeze(Backbone backbone, IReadOnlyList<string> blocks)
    {
        var trainable = blocks.Select(b => backbone.Blocks[backbone.BlockIndex(b)]).ToList();
        Freeze(backbone, trainable);
        return trainable;
    }
}
