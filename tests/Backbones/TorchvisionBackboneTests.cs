using DogsVsCats.Vision.Shared;
using DogsVsCats.Vision.Tests.Cli;
using DogsVsCats.Vision.Trainer.Cli;
using DogsVsCats.Vision.Trainer.Models;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace DogsVsCats.Vision.Tests.BackboneTests;

/// <summary>The torchvision backbones against PyTorch itself, and every way a weights file can be wrong.</summary>
[Collection(TorchvisionGroup.Name)]
[Trait("Category", "Slow")]
public sealed class TorchvisionBackboneTests(TorchvisionReferenceFixture references)
{
    [Theory]
    [InlineData(TorchvisionResNet50.BackboneName, ".pth")]
    [InlineData(TorchvisionResNet50.BackboneName, ".safetensors")]
    [InlineData(TorchvisionInceptionV3.BackboneName, ".pth")]
    [InlineData(TorchvisionInceptionV3.BackboneName, ".safetensors")]
    public void Backbone_TorchvisionWeights_MatchesPyTorchFeatures(string architecture, string extension)
    {
        using var backbone = Backbones.Create(new BackboneSpec(architecture, references.Weights(architecture, extension)));
        backbone.eval();
        var reference = Safetensors.LoadStateDict(references.Reference(architecture));
        try
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var input = reference["input"];
            var expected32 = reference["features"];
            var expected64 = reference["features_f64"];

            // float32, as the trainer runs: no further from PyTorch's float64 result than PyTorch's own float32 is
            // (a random 50-layer network amplifies rounding to ~1e-3; both libraries round differently).
            var features = backbone.call(input);
            Assert.Equal([2L, backbone.Info.FeatureChannels, expected32.shape[2], expected32.shape[3]], features.shape);
            var pytorchRounding = (expected32.to_type(ScalarType.Float64) - expected64).abs().max().item<double>();
            var worst32 = (features.to_type(ScalarType.Float64) - expected64).abs().max().item<double>();
            Assert.True(worst32 <= Math.Max(1e-4, 2 * pytorchRounding), $"{architecture}{extension} float32: max |TorchSharp - PyTorch f64| = {worst32:g3}, PyTorch's own float32 is {pytorchRounding:g3} off");

            // float64, rounding out of the way: the same network and weights to within 1e-4.
            backbone.to(ScalarType.Float64);
            var features64 = backbone.call(input.to_type(ScalarType.Float64));
            var worst64 = (features64 - expected64).abs().max().item<double>();
            Assert.True(worst64 <= 1e-4, $"{architecture}{extension} float64: max |TorchSharp - PyTorch| = {worst64:g3} > 1e-4");
        }
        finally
        {
            foreach (var t in reference.Values)
            {
                t.Dispose();
            }
        }
    }

    [Fact]
    public void Backbones_InputSizeAndLastStage_AreTorchvisions()
    {
        Assert.Equal((224, 224, 2048, "layer4"), Shape(TorchvisionResNet50.Description));
        Assert.Equal((299, 299, 2048, "Mixed_7c"), Shape(TorchvisionInceptionV3.Description));
        using var inception = Backbones.Architecture(TorchvisionInceptionV3.BackboneName);
        // Mixed_7c is one whole InceptionE module: its 9 convolutions, each with a batch norm.
        Assert.Equal(9 * 3, inception.LastStage.parameters().Count());

        static (int, int, int, string) Shape(BackboneInfo info) => (info.InputWidth, info.InputHeight, info.FeatureChannels, info.LastStageName);
    }

    [Fact]
    public void Weights_OtherArchitecture_NamesItAndTheKeys()
    {
        var file = references.Weights(TorchvisionInceptionV3.BackboneName, ".safetensors");
        var e = Assert.Throws<BackboneWeightsException>(() => Backbones.Create(new BackboneSpec(TorchvisionResNet50.BackboneName, file)));
        Assert.Contains(file, e.Message, StringComparison.Ordinal);
        Assert.Contains("not a torchvision resnet50 state_dict", e.Message, StringComparison.Ordinal);
        Assert.Contains("It looks like a inception_v3 state_dict", e.Message, StringComparison.Ordinal);
        Assert.Contains("missing key(s): conv1.weight", e.Message, StringComparison.Ordinal);
        Assert.Contains("unexpected key(s): Conv2d_1a_3x3.bn.bias", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Train_WeightsOfAnotherArchitecture_ExitsBeforeDecodingAnything()
    {
        using var dir = new TempDirectory();
        var runs = Path.Combine(dir.Path, "runs");
        var file = references.Weights(TorchvisionResNet50.BackboneName, ".pth");
        var (code, output, error) = TrainerCliTests.Trainer("train", "--data", TestData.DogsVsCatsRoot, "--backbone", "inception_v3", "--weights", file, "--out", runs);
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains($"'{file}' is not a torchvision inception_v3 state_dict", error, StringComparison.Ordinal);
        Assert.Contains("It looks like a resnet50 state_dict", error, StringComparison.Ordinal);
        Assert.DoesNotContain("Checked", output, StringComparison.Ordinal);
        Assert.False(Directory.Exists(runs), "no run folder for a run that could not start");
    }

    [Fact]
    public void Weights_MissingUnexpectedAndMisshapenKeys_AllNamed()
    {
        using var dir = new TempDirectory();
        var state = Safetensors.LoadStateDict(references.Weights(TorchvisionResNet50.BackboneName, ".safetensors"));
        var broken = Path.Combine(dir.Path, "broken.safetensors");
        try
        {
            state.Remove("layer2.1.bn2.running_var", out var removed);
            removed!.Dispose();
            state["layer5.0.conv1.weight"] = zeros(4, 4);
            state["layer3.0.conv2.weight"].Dispose();
            state["layer3.0.conv2.weight"] = zeros(256, 256, 5, 5);
            Safetensors.SaveStateDict(broken, state);
        }
        finally
        {
            foreach (var t in state.Values)
            {
                t.Dispose();
            }
        }

        var e = Assert.Throws<BackboneWeightsException>(() => Backbones.Create(new BackboneSpec(TorchvisionResNet50.BackboneName, broken)));
        Assert.Contains("1 missing key(s): layer2.1.bn2.running_var", e.Message, StringComparison.Ordinal);
        Assert.Contains("1 unexpected key(s): layer5.0.conv1.weight", e.Message, StringComparison.Ordinal);
        Assert.Contains("1 wrong shape(s): layer3.0.conv2.weight is [256, 256, 5, 5], expected [256, 256, 3, 3]", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Weights_NotAStateDict_SaysWhatToDo()
    {
        using var dir = new TempDirectory();
        var text = Path.Combine(dir.Path, "notes.pth");
        File.WriteAllText(text, "these are not weights");
        var e = Assert.Throws<BackboneWeightsException>(() => Backbones.Create(new BackboneSpec(TorchvisionInceptionV3.BackboneName, text)));
        Assert.Contains("Cannot read", e.Message, StringComparison.Ordinal);
        Assert.Contains("torch.save(model.state_dict()", e.Message, StringComparison.Ordinal);

        var legacy = Path.Combine(references.Directory, "legacy.pth");
        e = Assert.Throws<BackboneWeightsException>(() => Backbones.Create(new BackboneSpec(TorchvisionResNet50.BackboneName, legacy)));
        Assert.Contains("old PyTorch format", e.Message, StringComparison.Ordinal);
        Assert.Contains("python3 -c \"import torch; torch.save(torch.load('old.pth'), 'new.pth')\"", e.Message, StringComparison.Ordinal);

        var truncated = Path.Combine(dir.Path, "truncated.safetensors");
        using (var source = File.OpenRead(references.Weights(TorchvisionInceptionV3.BackboneName, ".safetensors")))
        using (var target = File.Create(truncated))
        {
            var head = new byte[1 << 20];
            source.ReadExactly(head);
            target.Write(head);
        }

        e = Assert.Throws<BackboneWeightsException>(() => Backbones.Create(new BackboneSpec(TorchvisionInceptionV3.BackboneName, truncated)));
        Assert.Contains(truncated, e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(TorchvisionResNet50.BackboneName, null, "needs --weights FILE")]
    [InlineData(CntkResNet18.BackboneName, "weights.pth", "--weights is for torchvision backbones")]
    [InlineData(TorchvisionInceptionV3.BackboneName, "no-such-file.pth", "does not exist")]
    [InlineData("vgg16", null, "Unknown backbone 'vgg16'")]
    public void Spec_Wrong_SaysWhatToFix(string name, string? weights, string expected)
    {
        var problem = Backbones.Problem(new BackboneSpec(name, weights));
        Assert.NotNull(problem);
        Assert.Contains(expected, problem, StringComparison.Ordinal);
        Assert.Throws<BackboneWeightsException>(() => Backbones.Create(new BackboneSpec(name, weights)));
    }
}
