using TorchSharp;
using static TorchSharp.torch;

namespace DogsVsCats.Vision.Trainer.Models;

/// <summary>
/// Which layers two trained models hold identically (the pretrained stem every strategy keeps frozen, the last stage
/// that only <c>finetune</c> trains): what an ensemble graph and the mirrored validation pass compute once for all.
/// </summary>
internal static class SharedLayers
{
    /// <summary>Every weight and BatchNorm statistic below the last stage is bit-for-bit the same.</summary>
    public static bool SameStem(Backbone a, Backbone b)
    {
        return Same(Stem(a), Stem(b));
    }

    /// <summary>The last stage's weights and statistics are bit-for-bit the same.</summary>
    public static bool SameLastStage(Backbone a, Backbone b)
    {
        return Same(a.LastStage.state_dict(), b.LastStage.state_dict());
    }

    /// <summary>The whole backbone is the same (stem and last stage).</summary>
    public static bool SameBackbone(Backbone a, Backbone b) => SameStem(a, b) && SameLastStage(a, b);

    /// <summary>
    /// <paramref name="items"/> in groups whose backbones <paramref name="same"/> finds alike, each item with the first
    /// group whose first item matches it, in input order: the models that can share one pass through those layers.
    /// </summary>
    public static IReadOnlyList<IReadOnlyList<T>> Group<T>(IEnumerable<T> items, Func<T, Backbone> backbone, Func<Backbone, Backbone, bool> same)
    {
        var groups = new List<List<T>>();
        foreach (var item in items)
        {
            var group = groups.FirstOrDefault(g => same(backbone(g[0]), backbone(item)));
            if (group is null)
            {
                groups.Add([item]);
            }
            else
            {
                group.Add(item);
            }
        }

        return groups;
    }

    private static Dictionary<string, Tensor> Stem(Backbone backbone)
    {
        // The last stage's entries are those under the name it is registered with.
        var prefix = backbone.named_modules().First(m => ReferenceEquals(m.module, backbone.LastStage)).name + ".";
        return backbone.state_dict().Where(p => !p.Key.StartsWith(prefix, StringComparison.Ordinal)).ToDictionary(p => p.Key, p => p.Value);
    }

    private static bool Same(Dictionary<string, Tensor> a, Dictionary<string, Tensor> b)
    {
        if (a.Count != b.Count)
        {
            return false;
        }

        using var scope = NewDisposeScope();
        return a.All(p => b.TryGetValue(p.Key, out var other) && p.Value.shape.SequenceEqual(other.shape) && p.Value.eq(other.to(p.Value.device)).all().item<bool>());
    }
}
