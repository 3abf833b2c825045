using DogsVsCats.Vision.Trainer.Data;
using DogsVsCats.Vision.Trainer.Models;
using DogsVsCats.Vision.Trainer.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace DogsVsCats.Vision.Tests.BackboneTests;

/// <summary>
/// The frozen part of every backbone gives the same features and logits on ONNX Runtime as on TorchSharp, on real
/// photos: the pooled backbone (frozen, features) and the stem below the last stage (finetune). resnet18-imagenet with
/// its ImageNet weights; resnet50 and inception_v3 with the reference fixture's weights (BatchNorm measured on photos).
/// </summary>
[Collection(TorchvisionGroup.Name)]
[Trait("Category", "Slow")]
public sealed class FrozenPartTests(TorchvisionReferenceFixture reference)
{
    public static IEnumerable<object[]> Cases { get; } = new TheoryData<string, FrozenScope>
    {
        { CntkResNet18.BackboneName, FrozenScope.PooledBackbone },
        { CntkResNet18.BackboneName, FrozenScope.Stem },
        { TorchvisionResNet50.BackboneName, FrozenScope.PooledBackbone },
        { TorchvisionResNet50.BackboneName, FrozenScope.Stem },
        { TorchvisionInceptionV3.BackboneName, FrozenScope.PooledBackbone },
        { TorchvisionInceptionV3.BackboneName, FrozenScope.Stem },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    internal void OnnxRuntime_RealPhotos_MatchesTorchSharp(string backboneName, FrozenScope scope)
    {
        using var backbone = Backbones.Create(Spec(backboneName));
        backbone.eval();
        using var pixels = Photos(backbone.Info, 5);   // an odd batch: no batch size is assumed
        using var onnx = FrozenPart.Create(backbone, scope, FrozenEngine.OnnxRuntime, CPU, threads: 2);
        using var torch = FrozenPart.Create(backbone, scope, FrozenEngine.Torch, CPU, threads: 2);

        using var fast = onnx.Run(pixels);
        using var reference = torch.Run(pixels);

        Assert.Equal(FrozenEngine.OnnxRuntime, onnx.Engine);
        Assert.Equal(reference.shape, fast.shape);
        Assert.Equal(scope == FrozenScope.Stem ? 4 : 2, fast.dim());
        var difference = (fast - reference).abs().max().item<float>();
        var scale = reference.abs().max().item<float>();
        Assert.True(scale > 0.1, $"the features are all near zero ({scale}): the check would prove nothing");
        Assert.True(difference <= 1e-4 * Math.Max(1, scale), $"max |ONNX Runtime - TorchSharp| = {difference:E2} (largest value {scale:F2})");
    }

    [Theory]
    [InlineData(CntkResNet18.BackboneName)]
    [InlineData(TorchvisionInceptionV3.BackboneName)]
    public void OnnxRuntime_LogitsThroughHead_MatchTheWholeModel(string backboneName)
    {
        manual_seed(3);
        var backbone = Backbones.Create(Spec(backboneName));
        using var model = new TransferModel(backbone, new ClassifierHead(backbone.Info.FeatureChannels, 2));
        model.eval();
        using var pixels = Photos(backbone.Info, 4);
        using var frozen = FrozenPart.Create(backbone, FrozenScope.PooledBackbone, FrozenEngine.OnnxRuntime, CPU, threads: 2);
        using var stem = FrozenPart.Create(backbone, FrozenScope.Stem, FrozenEngine.OnnxRuntime, CPU, threads: 2);
        using var noGrad = no_grad();

        using var expected = model.call(pixels);
        using var pooled = frozen.Run(pixels);
        using var viaPooled = model.Head.ForwardPooled(pooled);
        using var stemOut = stem.Run(pixels);
        using var viaStem = model.Head.call(backbone.LastStage.call(stemOut));

        Assert.True((viaPooled - expected).abs().max().item<float>() <= 1e-4, "logits from pooled ONNX Runtime features");
        Assert.True((viaStem - expected).abs().max().item<float>() <= 1e-4, "logits from the ONNX Runtime stem + TorchSharp last stage");
    }

    /// <summary>
    /// ONNX Runtime reads the input tensor's memory in place and writes into the result's: a batch that is a view into
    /// a larger tensor (memory offset), a non-contiguous view, an empty batch, and a second run must each give what the
    /// same photos alone give, and no result may share memory with another.
    /// </summary>
    [Fact]
    public void OnnxRuntime_ViewsAndRepeatedRuns_ReadAndWriteTheirOwnMemory()
    {
        using var backbone = Backbones.Create(BackboneSpec.Default);
        backbone.eval();
        using var pixels = Photos(backbone.Info, 4);
        using var part = FrozenPart.Create(backbone, FrozenScope.PooledBackbone, FrozenEngine.OnnxRuntime, CPU, threads: 2);
        using var all = part.Run(pixels);
        using var before = all.clone();

        using var middle = pixels.narrow(0, 1, 2);                                              // starts one image in
        using var ofMiddle = part.Run(middle);
        using var mirrored = pixels.flip(3).permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2);   // channels-last strides
        using var ofMirrored = part.Run(mirrored);
        using var ofMirroredAlone = part.Run(pixels.flip(3).contiguous());
        using var empty = part.Run(pixels.narrow(0, 0, 0));

        Assert.True((ofMiddle - all.narrow(0, 1, 2)).abs().max().item<float>() <= 1e-5, "a view that starts one image in");
        Assert.True((ofMirrored - ofMirroredAlone).abs().max().item<float>() <= 1e-5, "a non-contiguous view");
        Assert.True((ofMirrored - all).abs().max().item<float>() > 1e-3, "mirrored photos give other features: the check would prove nothing");
        Assert.Equal(0f, (before - all).abs().max().item<float>());   // later runs did not write into an earlier result
        Assert.Equal(new long[] { 0, backbone.Info.FeatureChannels }, empty.shape);
    }

    [Fact]
    public void Resolve_Auto_PicksOnnxRuntimeOnCpuAndTorchOnCuda()
    {
        Assert.Equal(FrozenEngine.OnnxRuntime, FrozenPart.Resolve(FrozenEngine.Auto, CPU));
        Assert.Equal(FrozenEngine.Torch, FrozenPart.Resolve(FrozenEngine.Auto, new Device(DeviceType.CUDA)));
        Assert.Equal(FrozenEngine.Torch, FrozenPart.Resolve(FrozenEngine.Torch, CPU));
        var error = Assert.Throws<ArgumentException>(() => FrozenPart.Resolve(FrozenEngine.OnnxRuntime, new Device(DeviceType.CUDA)));
        Assert.Contains("--frozen-engine", error.Message, StringComparison.Ordinal);
    }

    private BackboneSpec Spec(string name) =>
        name == CntkResNet18.BackboneName ? BackboneSpec.Default : new BackboneSpec(name, reference.Weights(name, ".pth"));

    private static Tensor Photos(BackboneInfo info, int count)
    {
        var files = TestData.RealPhotos("cat", count / 2).Concat(TestData.RealPhotos("dog", count - (count / 2))).Select(p => new LabeledFile(p, 0)).ToList();
        var set = ImageLoader.Load(files, info.InputWidth, info.InputHeight, []);
        return Batches.Images(set, [.. Enumerable.Range(0, set.Count)], CPU);
    }
}
