using System.Diagnostics;
using DogsVsCats.Vision.Trainer.Models;
using DogsVsCats.Vision.Trainer.Results;
using DogsVsCats.Vision.Trainer.Strategies;
using DogsVsCats.Vision.Trainer.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace DogsVsCats.Vision.Trainer.Run;

/// <summary>
/// Every strategy's logits on the mirrored validation photos, through its model in memory: the second view of
/// test-time augmentation. Models whose backbones are identical (frozen and features keep the pretrained one) share
/// one pass through it and differ only in their heads. Run for <c>--tta flip</c> only (see <see cref="ModelChoice.Choose"/>).
/// </summary>
internal static class MirroredValidation
{
    public static Dictionary<string, ValidationPredictions> Predict(IReadOnlyList<(string Name, StrategyOutcome Outcome)> outcomes, StrategyContext context)
    {
        var result = new Dictionary<string, ValidationPredictions>();
        foreach (var group in SharedLayers.Group(outcomes, o => o.Outcome.Model.Backbone, SharedLayers.SameBackbone))
        {
            var clock = Stopwatch.StartNew();
            var backbone = group[0].Outcome.Model.Backbone;
            var source = context.Images(context.Validation);
            var logits = group.Select(_ => new List<float>()).ToList();
            var truth = new List<int>();
            var paths = new List<string>();
            var classes = context.Classes.Count;
            foreach (var (_, outcome) in group)
            {
                outcome.Model.eval();
            }

            // Below the last stage every model keeps the pretrained layers: they run on the fastest engine, as in training.
            using var stem = context.Frozen(backbone, FrozenScope.Stem);
            using var noGrad = no_grad();
            using var task = context.Progress.Start($"validate mirrored: {string.Join(", ", group.Select(g => g.Name))}", source.Count, "img");
            foreach (var batch in source.Read([.. Enumerable.Range(0, source.Count)], context.Settings.BatchSize, augment: null))
            {
                using var scope = NewDisposeScope();
                var features = backbone.LastStage.call(stem.Run(batch.Input.flip(3)));   // [B, D, h, w] of the mirrored images
                for (var m = 0; m < group.Count; m++)
                {
                    logits[m].AddRange(group[m].Outcome.Model.Head.call(features).cpu().to_type(ScalarType.Float32).data<float>().ToArray());
                }

                truth.AddRange(batch.Indices.Select(i => context.Validation.Labels[i]));
                paths.AddRange(batch.Indices.Select(i => context.Validation.Paths[i]));
                task.Advance(batch.Attempted);
            }

            for (var m = 0; m < group.Count; m++)
            {
                result[group[m].Name] = new ValidationPredictions([.. logits[m]], classes, [.. truth], [.. paths]);
            }

            context.Progress.Log($"Mirrored validation: {truth.Count} photos through {string.Join(", ", group.Select(g => g.Name))} in {clock.Elapsed.TotalSeconds:F1} s.");
        }

        return result;
    }
}
