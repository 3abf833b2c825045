using DogsVsCats.Vision.Trainer.Onnx;
using TorchSharp;
using static TorchSharp.torch;

namespace DogsVsCats.Vision.Trainer.Models;

/// <summary>What a backbone needs the rest of the program to know: its input and what it hands over.</summary>
/// <param name="Name">The CLI name, e.g. <c>resnet18-imagenet</c>.</param>
/// <param name="InputWidth">Pixels the backbone expects across.</param>
/// <param name="InputHeight">Pixels the backbone expects down.</param>
/// <param name="FeatureChannels">Channels of the last feature map (the head's input size).</param>
/// <param name="Preprocessing">How raw BGR 0..255 pixels become the network's input, in words.</param>
/// <param name="LastStageName">The block group <c>finetune</c> unfreezes.</param>
public sealed record BackboneInfo(
    string Name, int InputWidth, int InputHeight, int FeatureChannels, string Preprocessing, string LastStageName);

/// <summary>
/// A convolutional feature extractor. Input: float BGR pixels 0..255, [N, 3, H, W]; every normalisation the
/// network needs happens inside, so training, evaluation and export can never disagree on it.
/// Output: the last stage's feature maps, [N, C, h, w] (kept spatial for class activation maps).
/// Every backbone is a stem (everything before the last stage) followed by its last stage, in forward and in the
/// export alike, so the part that <c>finetune</c> keeps frozen can run on its own (see FrozenPart).
/// </summary>
public abstract class Backbone(string name) : nn.Module<Tensor, Tensor>(name), IOnnxExportable
{
    public abstract BackboneInfo Info { get; }

    /// <summary>The whole blocks of the last stage, the part <c>finetune</c> trains.</summary>
    public abstract nn.Module<Tensor, Tensor> LastStage { get; }

    public sealed override Tensor forward(Tensor input)
    {
        using var stem = ForwardStem(input);
        return LastStage.call(stem);
    }

    public string ExportOnnx(OnnxGraphBuilder graph, string input) => graph.Module(LastStage, ExportStem(graph, input));

    /// <summary>Normalisation and every layer before the last stage: [N, 3, H, W] pixels -> the last stage's input.</summary>
    public abstract Tensor ForwardStem(Tensor input);

    /// <summary>The same as <see cref="ForwardStem"/>, as ONNX nodes.</summary>
    public abstract string ExportStem(OnnxGraphBuilder graph, string input);
}
