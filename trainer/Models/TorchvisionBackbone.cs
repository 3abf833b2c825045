using DogsVsCats.Vision.Trainer.Onnx;
using TorchSharp;
using static TorchSharp.torch;

namespace DogsVsCats.Vision.Trainer.Models;

/// <summary>
/// A torchvision network rebuilt with torchvision's parameter names, so its published <c>state_dict</c> loads key for
/// key. The pixel normalisation torchvision does outside the network (BGR -> RGB, /255, mean and std per channel)
/// happens inside, first, so the exported model takes the same raw BGR bytes as every other backbone.
/// </summary>
internal abstract class TorchvisionBackbone : Backbone
{
    /// <summary>The ImageNet classifier and auxiliary head of torchvision's files: replaced by the trainer's head.</summary>
    private static readonly string[] ReplacedHeads = ["fc.", "AuxLogits."];

    protected TorchvisionBackbone(string name, int inputSize, double[] mean, double[] std) : base(name, inputSize)
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

    /// <summary>Loads a torchvision state_dict of this architecture (its classifier is ignored).</summary>
    public void LoadWeights(string path) => TorchvisionWeights.Load(this, path, Architecture, ReplacedHeads);

    protected sealed override Tensor Normalise(Tensor input) =>
        ((input * get_buffer("pixel_scale")!.to(input.dtype, input.device)) + get_buffer("pixel_shift")!.to(input.dtype, input.device)).flip(1);   // RGB, normalised

    protected sealed override string ExportNormalise(OnnxGraphBuilder graph, string input)
    {
        var x = graph.Add(graph.Mul(input, graph.Initializer("pixel_scale", get_buffer("pixel_scale")!)), graph.Initializer("pixel_shift", get_buffer("pixel_shift")!));
        return graph.Gather(x, 1, [2, 1, 0]);
    }
}
