using DogsVsCats.Vision.Trainer.Models;
using static TorchSharp.torch;

namespace DogsVsCats.Vision.Trainer.Strategies;

/// <summary>
/// One way to reuse a pretrained backbone: its name, how many epochs it runs by default, which strategies must run
/// before it (and hand it what they produced), and how it builds its fit. The loop itself is <c>Fitter</c>'s.
/// </summary>
internal abstract class Strategy
{
    /// <summary>The CLI name, e.g. <c>frozen</c>.</summary>
    public abstract string Name { get; }

    public abstract int DefaultEpochs { get; }

    /// <summary>Strategies whose outcome this one starts from; they run first and arrive in <c>Run</c>'s dependencies.</summary>
    public virtual IReadOnlyList<string> DependsOn { get; } = [];

    /// <summary>Trains in <c>&lt;run&gt;/&lt;Name&gt;/</c>; <paramref name="dependencies"/> holds one outcome per name in <see cref="DependsOn"/>.</summary>
    public abstract StrategyOutcome Run(StrategyContext context, IReadOnlyDictionary<string, StrategyOutcome> dependencies);

    /// <summary>Sets requires_grad: false for the whole backbone except the modules in <paramref name="trainable"/>.</summary>
    public static void Freeze(Backbone backbone, IEnumerable<nn.Module> trainable)
    {
        foreach (var p in backbone.parameters())
        {
            p.requires_grad = false;
        }

        foreach (var p in trainable.SelectMany(m => m.parameters()))
        {
            p.requires_grad = true;
        }
    }
}
