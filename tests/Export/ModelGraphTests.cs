using DogsVsCats.Vision.Shared;
using DogsVsCats.Vision.Trainer.Export;
using DogsVsCats.Vision.Trainer.Models;
using DogsVsCats.Vision.Trainer.Onnx;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using TorchSharp;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace DogsVsCats.Vision.Tests.Export;

/// <summary>
/// The exported graph's test-time augmentation, temperature and ensemble, on real photos, against the TorchSharp
/// models they came from: ONNX Runtime must compute the mean of the single passes, not an approximation of it.
/// </summary>
[Trait("Category", "Slow")]
public sealed class ModelGraphTests
{
    private const int Photos = 6;
    private const int Side = 224;
    private const double Tolerance = 1e-5;

    [Fact]
    public void Export_Flip_ProbabilitiesAndCamAreTheMeanOfImageAndMirror()
    {
        using var model = NewModel(seed: 1);
        var (bytes, images) = LoadPhotos();
        using var folder = new TempDirectory();
        var path = Path.Combine(folder.Path, "tta.onnx");
        const double temperature = 1.5;
        ModelExporter.Export(model, Describe() with { Tta = ModelContract.TtaModes.Flip, Temperature = temperature }, path, overwrite: false);

        var (probabilities, cam) = Run(path, bytes);

        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var mirrored = images.flip(3);
        var plain = Softmax(model.call(images), temperature);
        var flipped = Softmax(model.call(mirrored), temperature);
        var expected = (plain + flipped) / 2;                                                        // [N, C]
        var weight = model.Head.Dense.weight!;
        var camPlain = einsum("cd,ndhw->nchw", weight, model.Backbone.call(images));
        var camMirror = einsum("cd,ndhw->nchw", weight, model.Backbone.call(mirrored)).flip(3);    // mirrored back
        var expectedCam = (camPlain + camMirror) / 2;                                              // [N, C, 7, 7]

        // The mirror changes the answer, so a graph that skipped it (or did not flip the CAM back) would fail below.
        Assert.True((plain - expected).abs().max().item<float>() > 1e-3, "the mirror barely changes the probabilities: the test would prove nothing");
        Assert.True((camPlain - expectedCam).abs().max().item<float>() > 1e-2, "the mirrored CAM equals the plain one: the test would prove nothing");
        OnnxTestSession.AssertClose(expected, probabilities, Tolerance);
        OnnxTestSession.AssertClose(expectedCam, cam, Tolerance * Math.Max(1, expectedCam.abs().max().item<float>()));
    }

    [Fact]
    public void Export_Temperature_ProbabilitiesAreSoftmaxOfLogitsOverT()
    {
        using var model = NewModel(seed: 2);
        var (bytes, images) = LoadPhotos();
        using var folder = new TempDirectory();
        var path = Path.Combine(folder.Path, "t.onnx");
        const double temperature = 0.4;
        ModelExporter.Export(model, Describe() with { Temperature = temperature }, path, overwrite: false);

        var (probabilities, _) = Run(path, bytes);

        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var logits = model.call(images);
        var expected = Softmax(logits, temperature);
        Assert.True((Softmax(logits, 1) - expected).abs().max().item<float>() > 1e-3, "T changes nothing here: the test would prove nothing");
        OnnxTestSession.AssertClose(expected, probabilities, Tolerance);
        using var session = new InferenceSession(path);
        Assert.Equal("0.4", session.ModelMetadata.CustomMetadataMap[ModelContract.Keys.Temperature]);
    }

    [Fact]
    public void Export_Ensemble_AveragesMembersAndRunsSharedLayersOnce()
    {
        // Two members on the pretrained backbone (frozen, features) and one whose last stage moved (finetune).
        using var frozen = NewModel(seed: 3);
        using var features = NewModel(seed: 4);
        using var finetuned = NewModel(seed: 5);
        using (no_grad())
        {
            foreach (var p in finetuned.Backbone.LastStage.parameters())
            {
                p.mul_(1.05);
            }
        }

        var (bytes, images) = LoadPhotos();
        using var folder = new TempDirectory();
        var path = Path.Combine(folder.Path, "ensemble.onnx");
        var metadata = Describe() with { Strategy = "ensemble", Members = ["frozen", "features", "finetune"], Tta = ModelContract.TtaModes.None };
        ModelExporter.Export([frozen, features, finetuned], metadata, path, overwrite: false);

        var (probabilities, cam) = Run(path, bytes);

        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        TransferModel[] members = [frozen, features, finetuned];
        var expected = members.Select(m => Softmax(m.call(images), 1)).Aggregate((a, b) => a + b) / 3;
        var expectedCam = members.Select(m => einsum("cd,ndhw->nchw", m.Head.Dense.weight!, m.Backbone.call(images))).Aggregate((a, b) => a + b) / 3;
        OnnxTestSession.AssertClose(expected, probabilities, Tolerance);
        OnnxTestSession.AssertClose(expectedCam, cam, Tolerance * Math.Max(1, expectedCam.abs().max().item<float>()));

        // The stem once, the pretrained last stage once for two heads, the moved one once; one CAM convolution per member.
        var stem = new OnnxGraphBuilder();
        frozen.Backbone.ExportStem(stem, "x");
        var stemConvs = stem.Graph.Node.Count(n => n.OpType == "Conv");
        var last = new OnnxGraphBuilder();
        last.Module(frozen.Backbone.LastStage, "x");
        var lastConvs = last.Graph.Node.Count(n => n.OpType == "Conv");
        using var stream = File.OpenRead(path);
        var graph = Onnx.ModelProto.Parser.ParseFrom(stream).Graph;
        Assert.Equal(stemConvs + (2 * lastConvs) + 3, graph.Node.Count(n => n.OpType == "Conv"));
    }

    private static Tensor Softmax(Tensor logits, double temperature) => nn.functional.softmax(logits / temperature, 1);

    private static TransferModel NewModel(int seed)
    {
        manual_seed(seed);
#pragma warning disable CA2000 // the TransferModel registers backbone and head and disposes them with itself
        var model = new TransferModel(Backbones.Create(BackboneSpec.Default), new ClassifierHead(512, 2));
#pragma warning restore CA2000
        model.eval();
        return model;
    }

    private static ModelDescription Describe() =>
        CheckpointInfo.Describe(Backbones.Describe(CntkResNet18.BackboneName), ["cat", "dog"], "frozen", 0.1, 0.9);

    /// <summary>Photos as the contract's uint8 [N, H, W, 3] BGR bytes and as the float [N, 3, H, W] the models take.</summary>
    private static (byte[] Bytes, Tensor Images) LoadPhotos()
    {
        var files = TestData.RealPhotos("cat", Photos / 2).Concat(TestData.RealPhotos("dog", Photos / 2)).ToList();
        var plane = Side * Side * 3;
        var bytes = new byte[files.Count * plane];
        for (var i = 0; i < files.Count; i++)
        {
            Assert.True(ImageFile.TryRead(files[i], out var bgr, out var error), error);
            using (bgr)
            using (var resized = ImagePreprocessing.Resize(bgr, Side, Side))
            {
                Assert.True(resized.IsContinuous());
                System.Runtime.InteropServices.Marshal.Copy(resized.Data, bytes, i * plane, plane);
            }
        }

        using var raw = tensor(bytes, [files.Count, Side, Side, 3]);
        return (bytes, raw.to_type(ScalarType.Float32).permute(0, 3, 1, 2).contiguous().DetachFromDisposeScope());
    }

    private static (float[] Probabilities, float[] Cam) Run(string path, byte[] bytes)
    {
        using var session = new InferenceSession(path);
        var input = new DenseTensor<byte>(bytes.AsMemory(), [bytes.Length / (Side * Side * 3), Side, Side, 3]);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor(ModelContract.InputName, input)]);
        return ([.. results.Single(r => r.Name == ModelContract.ProbabilitiesName).AsEnumerable<float>()],
                [.. results.Single(r => r.Name == ModelContract.CamName).AsEnumerable<float>()]);
    }
}
