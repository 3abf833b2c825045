using DogsVsCats.Vision.Tests.Fixtures;
using DogsVsCats.Vision.Trainer.Models;
using DogsVsCats.Vision.Trainer.Run;
using DogsVsCats.Vision.Trainer.Strategies;
using DogsVsCats.Vision.Trainer.Training;

namespace DogsVsCats.Vision.Tests.Training;

/// <summary><c>--unfreeze layer3,layer4</c>: a short finetune on real photos trains exactly those blocks and the head.</summary>
[Trait("Category", "Slow")]
public sealed class FinetuneUnfreezeTests
{
    private static readonly string[] Unfrozen = ["layer3", "layer4"];

    [Fact]
    public void Finetune_UnfreezeLayer3AndLayer4_TrainsExactlyThoseBlocks()
    {
        var root = TestData.NewTempDirectory();
        try
        {
            var request = new RunRequest
            {
                DataRoot = TestData.DogsVsCatsRoot,
                Strategy = FinetuneStrategy.StrategyName,
                LimitPerClass = 8,
                ValidationFraction = 0.25,
                OutputRoot = Path.Combine(root, "runs"),
            };
            var settings = new TrainingSettings { BatchSize = 8, Epochs = 1, Unfreeze = Unfrozen, CacheDirectory = Path.Combine(root, "cache") };
            var (report, _) = TrainingRun.Execute(request, settings, new QuietProgress());
            var finetune = report.Strategies.Single(s => s.Strategy == FinetuneStrategy.StrategyName);

            // What the optimizer saw: the parameters of layer3, layer4 and the head (512 x 2 + 2), no others.
            using var backbone = Backbones.Architecture(CntkResNet18.BackboneName);
            var expected = backbone.named_parameters().Where(p => Unfrozen.Any(b => p.name.StartsWith(b + ".", StringComparison.Ordinal))).Sum(p => p.parameter.numel());
            Assert.Equal(expected + (512 * 2) + 2, finetune.TrainableParameters);

            // What training changed: every convolution of layer3 and layer4, nothing below them.
            var changed = BackboneChanges.InCheckpoint(BackboneSpec.Default, report.Dataset.Classes.Count, finetune.CheckpointPath);
            Assert.All(changed, name => Assert.Matches(@"^backbone\.layer[34]\.", name));
            var convolutions = backbone.named_parameters().Where(p => p.parameter.dim() == 4 && Unfrozen.Any(b => p.name.StartsWith(b + ".", StringComparison.Ordinal))).Select(p => "backbone." + p.name).ToList();
            Assert.Equal(5 + 7, convolutions.Count);   // layer3: 2 blocks x 2 + shortcut; layer4: 3 x 2 + shortcut
            Assert.Empty(convolutions.Except(changed));
            Assert.Contains(finetune.Notes, n => n.StartsWith("Unfrozen: layer3, layer4 (whole blocks)", StringComparison.Ordinal));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
