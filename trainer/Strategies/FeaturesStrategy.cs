using System.Diagnostics;
using DogsVsCats.Vision.Trainer.Data;
using DogsVsCats.Vision.Trainer.Results;
using DogsVsCats.Vision.Trainer.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace DogsVsCats.Vision.Trainer.Strategies;

/// <summary>The frozen backbone runs once (cached on disk); only dropout + dense train on the pooled vectors.</summary>
internal sealed class FeaturesStrategy : Strategy
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
            Freeze(backbone, trainable: []);
            var notes = new List<string>();
            // One frozen backbone (an ONNX Runtime session) for both splits, built only when a split misses the cache.
            backbone.eval();
            var frozen = new Lazy<FrozenPart>(() => context.Frozen(backbone, FrozenScope.PooledBackbone));
            CachedFeatures train, validation;
            PhaseTiming trainPhase, validationPhase;
            try
            {
                (train, trainPhase) = PooledFeatures.Load(context, backbone.Info, frozen, context.Train, "train", notes, Name);
                (validation, validationPhase) = PooledFeatures.Load(context, backbone.Info, frozen, context.Validation, "validation", notes, Name);
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
}
