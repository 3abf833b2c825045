using DogsVsCats.Vision.Trainer.Models;
using static TorchSharp.torch;

namespace DogsVsCats.Vision.Tests.Fixtures;

/// <summary>What training did to a backbone: compares a full-model checkpoint with the pretrained network.</summary>
internal static class BackboneChanges
{
    /// <summary>Names of backbone tensors (parameters and BatchNorm statistics) of <paramref name="checkpoint"/> that differ from <paramref name="pretrained"/>'s weights.</summary>
    public static List<string> InCheckpoint(BackboneSpec pretrained, int classes, string checkpoint)
    {
        using var scope = NewDisposeScope();
        using var reference = Backbones.Create(pretrained);
#pragma warning disable CA2000 // the TransferModel registers backbone and head and disposes them with itself
        using var trained = new TransferModel(Backbones.Architecture(pretrained.Name), new ClassifierHead(reference.Info.FeatureChannels, classes));
#pragma warning restore CA2000
        trained.load(checkpoint);
        var weights = reference.state_dict();
        return [.. trained.state_dict()
            .Where(kv => kv.Key.StartsWith("backbone.", StringComparison.Ordinal))
            .Where(kv => !kv.Value.eq(weights[kv.Key["backbone.".Length..]]).all().item<bool>())
            .Select(kv => kv.Key)];
    }
}
