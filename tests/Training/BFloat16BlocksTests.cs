using DogsVsCats.Vision.Trainer.Models;
using DogsVsCats.Vision.Trainer.Strategies;
using DogsVsCats.Vision.Trainer.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace DogsVsCats.Vision.Tests.Training;

/// <summary>
/// finetune's bfloat16 training steps (<c>--precision bf16</c>): the bfloat16 copy computes what the float32 blocks
/// compute, to bfloat16's precision, in the same modes and with the current weights, and its gradients arrive on the
/// float32 parameters, which are what the optimizer updates.
/// </summary>
[Trait("Category", "Slow")]
public sealed class BFloat16BlocksTests
{
    private const int LastStage = 3;

    [Fact]
    public void Forward_AndGradients_MatchFloat32ToBFloat16Precision()
    {
        using var scope = NewDisposeScope();
        manual_seed(7);
        using var backbone = Backbones.Architecture(CntkResNet18.BackboneName, 64);
        backbone.eval();
        FinetuneStrategy.Unfreeze(backbone, ["layer4"]);
        var input = randn(3, 256, 4, 4);   // layer4's input at 64 px
        var weights = randn(3, 512, 2, 2);
        var trained = backbone.named_parameters().Where(p => p.parameter.requires_grad).ToList();

        (backbone.ForwardFrom(input, LastStage) * weights).sum().backward();
        var expected = trained.ToDictionary(p => p.name, p => p.parameter.grad!.clone());
        var reference = backbone.ForwardFrom(input, LastStage).detach();
        foreach (var (_, p) in trained)
        {
            p.grad = null;
        }

        using var blocks = new BFloat16Blocks(backbone, LastStage);
        var output = blocks.Forward(input);
        Assert.Equal(ScalarType.Float32, output.dtype);
        AssertClose(reference, output, 0.03);
        (output * weights).sum().backward();
        Assert.All(trained, p => Assert.Null(p.parameter.grad));   // until they are moved

        blocks.MoveGradients();
        Assert.All(trained, p =>
        {
            var gradient = p.parameter.grad;
            Assert.NotNull(gradient);
            Assert.Equal(ScalarType.Float32, gradient.dtype);
            var cosine = nn.functional.cosine_similarity(gradient.flatten(), expected[p.name].flatten(), 0).item<float>();
            Assert.True(cosine > 0.99, $"{p.name}: cosine {cosine:F4} between the bfloat16 and float32 gradients");
        });
        Assert.All(backbone.named_parameters().Where(p => !p.parameter.requires_grad), p => Assert.Null(p.parameter.grad));
    }

    [Fact]
    public void Forward_FollowsTheFloat32WeightsAndModes()
    {
        using var scope = NewDisposeScope();
        manual_seed(8);
        using var backbone = Backbones.Architecture(CntkResNet18.BackboneName, 64);
        backbone.eval();
        FinetuneStrategy.Unfreeze(backbone, ["layer4"]);
        var input = randn(4, 256, 4, 4);
        using var blocks = new BFloat16Blocks(backbone, LastStage);
        var before = blocks.Forward(input).detach();

        // An optimizer step changes the float32 weights: the next forward uses them.
        using (no_grad())
        {
            foreach (var p in backbone.parameters().Where(p => p.requires_grad))
            {
                p.mul_(0.5);
            }
        }

        var after = blocks.Forward(input).detach();
        AssertClose(backbone.ForwardFrom(input, LastStage).detach(), after, 0.03);
        Assert.True((after - before).abs().max().item<float>() > 0.1 * before.abs().max().item<float>(), "the copy kept the old weights");

        // BatchNorm in training mode normalises with the batch's statistics: the copy does too.
        backbone.Blocks[LastStage].train();
        var training = blocks.Forward(input).detach();
        AssertClose(backbone.ForwardFrom(input, LastStage).detach(), training, 0.03);
        Assert.True((training - after).abs().max().item<float>() > 0.1 * after.abs().max().item<float>(), "the copy stayed in eval mode");
    }

    private static void AssertClose(Tensor expected, Tensor actual, double relative)
    {
        var scale = expected.abs().max().item<float>();
        var difference = (actual - expected).abs().max().item<float>();
        Assert.True(scale > 0.01, $"the reference is all near zero ({scale}): the check would prove nothing");
        Assert.True(difference <= relative * scale, $"max |bf16 - fp32| = {difference:E2}, largest value {scale:F3}");
    }
}
