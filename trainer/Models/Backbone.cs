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
/// </summary>
public abstract class Backbone(string name) : nn.Module<Tensor, Tensor>(name)
{
    public abstract BackboneInfo Info { get; }

    /// <summary>The whole blocks of the last stage, the part <c>finetune</c> trains.</summary>
    public abstract nn.Module LastStage { get; }
}
