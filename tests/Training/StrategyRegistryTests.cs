using DogsVsCats.Vision.Trainer.Models;
using DogsVsCats.Vision.Trainer.Strategies;

namespace DogsVsCats.Vision.Tests.Training;

[Trait("Category", "Fast")]
public sealed class StrategyRegistryTests
{
    [Theory]
    [InlineData(FrozenStrategy.StrategyName, new[] { FrozenStrategy.StrategyName })]
    [InlineData(FeaturesStrategy.StrategyName, new[] { FeaturesStrategy.StrategyName })]
    [InlineData(FinetuneStrategy.StrategyName, new[] { FeaturesStrategy.StrategyName, FinetuneStrategy.StrategyName })]
    [InlineData(StrategyRegistry.All, new[] { FrozenStrategy.StrategyName, FeaturesStrategy.StrategyName, FinetuneStrategy.StrategyName })]
    public void Plan_Request_RunsDependenciesFirst(string requested, string[] expected)
    {
        Assert.Equal(expected, StrategyRegistry.Plan(requested).Select(s => s.Name));
    }

    [Fact]
    public void Plan_UnknownStrategy_NamesTheChoices()
    {
        var error = Assert.Throws<ArgumentException>(() => StrategyRegistry.Plan("bottleneck"));

        Assert.Contains("frozen, features, finetune, all", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Backbones_Registry_OneEntryPerNameWithItsOwnInfo()
    {
        Assert.Equal(Backbones.Names, Backbones.Registry.Select(b => b.Info.Name).Distinct());
        foreach (var entry in Backbones.Registry)
        {
            using var layers = entry.Architecture(entry.Info.InputWidth);
            Assert.Equal(entry.Info, layers.Info);
        }
    }
}
