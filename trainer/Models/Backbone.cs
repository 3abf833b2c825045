using DogsVsCats.Vision.Trainer.Onnx;
using TorchSharp;
using static TorchSharp.torch;

namespace DogsVsCats.Vision.Trainer.Models;

/// <summary>What a backbone needs the rest of the program to know: its input and what it hands over.</summary>
/// <param name="Name">The CLI name, e.g. <c>resnet18-imagenet</c>.</param>
/// <param name="InputWidth">Pixels across: the backbone's own size, or the run's <c>--image-size</c>.</param>
/// <param name="InputHeight">Pixels down, as <paramref name="InputWidth"/>.</param>
/// <param name="FeatureChannels">Channels of the last feature map (the head's input size).</param>
/// <param name="Preprocessing">How raw BGR 0..255 pixels become the network's input, in words.</param>
/// <param name="BlockNames">The whole blocks <c>--unfreeze</c> can name, in forward order; the last is the last stage.</param>
/// <param name="MinimumInputSize">The smallest square input every layer still accepts.</param>
internal sealed record BackboneInfo(
    string Name, int InputWidth, int InputHeight, int FeatureChannels, string Preprocessing, IReadOnlyList<string> BlockNames, int MinimumInputSize = 32)
{
    /// <summary>The block group <c>finetune</c> unfreezes by default.</summary>
    public string LastStageName => BlockNames[^1];

    /// <summary>The same backbone fed square <paramref name="size"/> x <paramref name="size"/> inputs.</summary>
    public BackboneInfo WithSize(int size) => this with { InputWidth = size, InputHeight = size };
}

/// <summary>
/// A convolutional feature extractor. Input: float BGR pixels 0..255, [N, 3, H, W]; every normalisation the
/// network needs happens inside, so training, evaluation and export can never disagree on it.
/// Output: the last stage's feature maps, [N, C, h, w] (kept spatial for class activation maps).
/// Every backbone is a chain: normalisation, a few layers, then whole blocks (<see cref="Blocks"/>) in order, in
/// forward and in the export alike, so the part below any block can run on its own, frozen (see FrozenPart).
/// </summary>
internal abstract class Backbone(string name, int inputSize) : nn.Module<Tensor, Tensor>(name), IOnnxExportable
{
    /// <summary>The square input size this instance is built for (the mean image of a backbone that has one follows it).</summary>
    public int InputSize { get; } = inputSize;

    public BackboneInfo Info => Native.WithSize(InputSize);

    /// <summary>The named whole blocks after the first layers, in forward order; the last is the last stage.</summary>
    public abstract IReadOnlyList<nn.Module<Tensor, Tensor>> Blocks { get; }

    /// <summary>The whole blocks of the last stage, the part <c>finetune</c> trains by default.</summary>
    public nn.Module<Tensor, Tensor> LastStage => Blocks[^1];

    /// <summary>Name, native size, channels, preprocessing and block names.</summary>
    protected abstract BackboneInfo Native { get; }

    /// <summary>The layers between the normalisation and the first block.</summary>
    protected abstract IReadOnlyList<nn.Module<Tensor, Tensor>> FirstLayers { get; }

    /// <summary>The position of the block <paramref name="blockName"/> in <see cref="Blocks"/>.</summary>
    public int BlockIndex(string blockName)
    {
        var index = Native.BlockNames.ToList().IndexOf(blockName);
        return index >= 0 ? index : throw new ArgumentException($"{Native.Name} has no block '{blockName}'; its blocks are {string.Join(", ", Native.BlockNames)}.", nameof(blockName));
    }

    public sealed override Tensor forward(Tensor input)
    {
        using var stem = ForwardStem(input);
        return LastStage.call(stem);
    }

    public string ExportOnnx(OnnxGraphBuilder graph, string input) => graph.Module(LastStage, ExportStem(graph, input));

    /// <summary>Normalisation and every layer before the last stage: [N, 3, H, W] pixels -> the last stage's input.</summary>
    public Tensor ForwardStem(Tensor input) => ForwardBelow(input, Blocks.Count - 1);

    /// <summary>The same as <see cref="ForwardStem"/>, as ONNX nodes.</summary>
    public string ExportStem(OnnxGraphBuilder graph, string input) => ExportBelow(graph, input, Blocks.Count - 1);

    /// <summary>Pixels -> the input of block <paramref name="block"/> (an index into <see cref="Blocks"/>).</summary>
    public Tensor ForwardBelow(Tensor input, int block)
    {
        using var scope = NewDisposeScope();
        // contiguous(): a channels-last view (e.g. NHWC pixels permuted to NCHW) gave features off by up to 0.8 in
        // libtorch 2.10 CPU; the backbone parity tests guard this.
        var x = Normalise(input.contiguous());
        x = FirstLayers.Concat(Blocks.Take(block)).Aggregate(x, (current, layer) => layer.call(current));
        return x.MoveToOuterDisposeScope();
    }

    /// <summary>The input of block <paramref name="block"/> -> the last feature maps, through that block and every one above.</summary>
    public Tensor ForwardFrom(Tensor x, int block)
    {
        using var scope = NewDisposeScope();
        x = Blocks.Skip(block).Aggregate(x, (current, layer) => layer.call(current));
        return x.MoveToOuterDisposeScope();
    }

    /// <summary>The same as <see cref="ForwardBelow"/>, as ONNX nodes.</summary>
    public string ExportBelow(OnnxGraphBuilder graph, string input, int block) =>
        FirstLayers.Concat(Blocks.Take(block)).Aggregate(ExportNormalise(graph, input), (x, layer) => graph.Module(layer, x));

    /// <summary>Raw BGR 0..255 [N, 3, H, W] -> what the first layer expects.</summary>
    protected abstract Tensor Normalise(Tensor input);

    /// <summary>The same as <see cref="Normalise"/>, as ONNX nodes.</summary>
    protected abstract string ExportNormalise(OnnxGraphBuilder graph, string input);
}
