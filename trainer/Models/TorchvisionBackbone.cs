using DogsVsCats.Vision.Trainer.Onnx;
using TorchSharp;
using static TorchSharp.torch;

namespace DogsVsCats.Vision.Trainer.Models;

/// <summary>
/// A torchvision network rebuilt with torchvision's parameter names, so its published <c>state_dict</c> loads key for
/// key. The pixel normalisation torchvision does outside the network (BGR -> RGB, /255, mean and std per channel)
/// happens inside, first, so the exported model takes the same raw BGR bytes as every other backbone.
/// </summary>
public abstract class TorchvisionBackbone : Backbone
{
    /// <summary>The ImageNet classifier and auxiliary head of torchvision's files: replaced by the trainer's head.</summary>
    private static readonly string[] ReplacedHeads = ["fc.", "AuxLogits."];

    protected TorchvisionBackbone(string name, double[] mean, double[] std) : base(name)
    {
        // Per channel, in BGR order (the input's): x * scale + shift == (x / 255 - mean) / std.
        // Kept in float64 and cast to the input's type and device, so a float64 run (the parity test) is exact.
        var scale = new double[3];
        var shift = new double[3];
        for (var rgb = 0; rgb < 3; rgb++)
        {
            var bgr = 2 - rgb;
            scale[bgr] = 1.0 / (255.0 * std[rgb]);
            shift[bgr] = -mean[rgb] / std[rgb];
        }

        // Not persistent: constants of the architecture, absent from torchvision's files and from checkpoints.
        register_buffer("pixel_scale", tensor(scale).reshape(1, 3, 1, 1), persistent: false);
        register_buffer("pixel_shift", tensor(shift).reshape(1, 3, 1, 1), persistent: false);
    }

    /// <summary>torchvision's name for the architecture, e.g. <c>resnet50</c>.</summary>
    public abstract string Architecture { get; }

    public sealed override Tensor ForwardStem(Tensor input)
    {
        using var scope = NewDisposeScope();
        // contiguous(): see CntkResNet18.forward (channels-last views gave wrong features in libtorch 2.10 CPU).
        var x = input.contiguous();
        x = ((x * get_buffer("pixel_scale")!.to(x.dtype, x.device)) + get_buffer("pixel_shift")!.to(x.dtype, x.device)).flip(1);   // RGB, normalised
        return StemFeatures(x).MoveToOuterDisposeScope();
    }

    public sealed override string ExportStem(OnnxGraphBuilder graph, string input)
    {
        var x = graph.Add(graph.Mul(input, graph.Initializer("pixel_scale", get_buffer("pixel_scale")!)), graph.Initializer("pixel_shift", get_buffer("pixel_shift")!));
        x = graph.Gather(x, 1, [2, 1, 0]);
        return ExportStemFeatures(graph, x);
    }

    /// <summary>Loads a torchvision state_dict of this architecture (its classifier is ignored).</summary>
    public void LoadWeights(string path) => TorchvisionWeights.Load(this, path, Architecture, ReplacedHeads);

    /// <summary>The network from normalised RGB [N, 3, H, W] to the input of its last stage.</summary>
    protected abstract Tensor StemFeatures(Tensor normalised);

    protected abstract string ExportStemFeatures(OnnxGraphBuilder graph, string normalised);
}
