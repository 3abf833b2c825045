using DogsVsCats.Vision.Shared;
using DogsVsCats.Vision.Tests.Fixtures;
using DogsVsCats.Vision.Trainer.Data;
using DogsVsCats.Vision.Trainer.Export;
using DogsVsCats.Vision.Trainer.Models;
using DogsVsCats.Vision.Trainer.Onnx;
using DogsVsCats.Vision.Trainer.Results;
using DogsVsCats.Vision.Trainer.Run;
using DogsVsCats.Vision.Trainer.Selection;
using DogsVsCats.Vision.Trainer.Training;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using TorchSharp;
using static TorchSharp.torch;

namespace DogsVsCats.Vision.Tests.Export;

/// <summary>The model.onnx that the small training run exported, against the TorchSharp model it came from.</summary>
[Collection(SmallRunGroup.Name)]
[Trait("Category", "Slow")]
public sealed class ExportRoundTripTests(SmallRunFixture run)
{
    private const int Photos = 16;

    /// <summary>
    /// Op types with a CUDA kernel in ONNX Runtime (docs/OperatorKernels.md, CUDAExecutionProvider), for float and, for
    /// Cast, uint8 input; a new op must be checked there before it joins this list.
    /// </summary>
    public static readonly string[] CudaOps =
    [
        "Add", "AveragePool", "BatchNormalization", "Cast", "Concat", "Conv", "Div", "Flatten", "Gather", "Gemm", "GlobalAveragePool",
        "Identity", "MaxPool", "Mul", "Pad", "ReduceMean", "Relu", "Reshape", "Softmax", "Sub", "Sum", "Transpose",
    ];

    private string ModelPath => Path.Combine(run.RunDirectory, TrainingRun.ModelFile);

    private string WinnerCheckpoint => run.Strategy(run.Report.Winner).CheckpointPath;

    [Fact]
    public void Export_RealPhotos_ProbabilitiesMatchTorchSharp()
    {
        var images = RealPhotos();
        var expected = TorchProbabilities(images, Temperature);          // [16, C]

        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
        using var session = new InferenceSession(ModelPath, options);
        var (probabilities, _) = Run(session, images, 0, Photos);

        Assert.Equal(expected.Length, probabilities.Length);
        var worst = expected.Zip(probabilities, (e, a) => Math.Abs(e - a)).Max();
        Assert.True(worst <= 1e-4, $"ONNX Runtime and TorchSharp differ by {worst:g3} > 1e-4");
        // A real classifier, not a constant: most of the 16 photos get their own label.
        var classes = probabilities.Length / Photos;
        var right = Enumerable.Range(0, Photos).Count(n => probabilities[(n * classes) + images.Labels[n]] > 0.5f);
        Assert.True(right >= 12, $"only {right} of {Photos} photos classified right");
    }

    [Fact]
    public void Export_Batch1AndBatch7_SamePerImageResults()
    {
        var images = RealPhotos();
        using var session = new InferenceSession(ModelPath);
        var (batch7, _) = Run(session, images, 0, 7);
        var classes = batch7.Length / 7;
        for (var i = 0; i < 7; i++)
        {
            var (single, _) = Run(session, images, i, 1);
            for (var c = 0; c < classes; c++)
            {
                Assert.True(Math.Abs(single[c] - batch7[(i * classes) + c]) <= 1e-5, $"image {i} class {c}: batch 1 {single[c]} vs batch 7 {batch7[(i * classes) + c]}");
            }
        }
    }

    [Fact]
    public void Export_Cam_IsEachImagesFeatureMapsWeightedByEachClass()
    {
        var images = RealPhotos();
        using var session = new InferenceSession(ModelPath);
        var (probabilities, cam) = Run(session, images, 0, Photos);
        using var model = LoadWinner();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var features = model.Backbone.call(Batches.Images(images, Enumerable.Range(0, Photos).ToArray(), CPU));   // [N, D, 7, 7]
        var weight = model.Head.Dense.weight!;                                                                     // [C, D]
        var expected = einsum("cd,ndhw->nchw", weight, features).contiguous().data<float>().ToArray();            // [N, C, 7, 7]
        var bias = model.Head.Dense.bias!.data<float>().ToArray();
        var classes = bias.Length;
        Assert.Equal([Photos, classes, 7, 7], cam.Dimensions.ToArray());

        // Position by position, image n's maps weighted by class c's dense weights: a swap of images, classes or
        // positions moves values to where another image's or class's belong.
        var actual = cam.Buffer.ToArray();
        var scale = expected.Max(Math.Abs);
        var worst = expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max();
        Assert.True(worst <= 1e-4 * scale, $"CAM differs from TorchSharp's by {worst:g3} (largest value {scale:g3})");

        // And for a global-average-pool + dense head, the mean of CAM_c + bias_c is logit_c: softmax(logits / T) gives the probabilities.
        for (var n = 0; n < Photos; n++)
        {
            var logits = Enumerable.Range(0, classes).Select(c => ((Enumerable.Range(0, 49).Sum(p => (double)cam[n, c, p / 7, p % 7]) / 49) + bias[c]) / Temperature).ToArray();
            var max = logits.Max();
            var total = logits.Sum(l => Math.Exp(l - max));
            for (var c = 0; c < classes; c++)
            {
                Assert.Equal(probabilities[(n * classes) + c], Math.Exp(logits[c] - max) / total, 4);
            }
        }
    }

    [Fact]
    public void Export_InMemoryAtEndOfRun_EqualsExportOfTheSavedCheckpoint()
    {
        using var folder = new TempDirectory();
        var fromCheckpoint = Path.Combine(folder.Path, "from-checkpoint.onnx");
        ModelExporter.ExportCheckpoint(WinnerCheckpoint, fromCheckpoint, overwrite: false);

        var inMemory = ParseModel(ModelPath);
        var reloaded = ParseModel(fromCheckpoint);
        Assert.Equal(reloaded.MetadataProps, inMemory.MetadataProps);
        Assert.Equal(reloaded.DocString, inMemory.DocString);
        Assert.Equal(reloaded.Graph.Node, inMemory.Graph.Node);
        Assert.Equal(reloaded.Graph.Input, inMemory.Graph.Input);
        Assert.Equal(reloaded.Graph.Output, inMemory.Graph.Output);
        Assert.Equal(reloaded.Graph.Initializer.Select(i => (i.Name, string.Join("x", i.Dims))), inMemory.Graph.Initializer.Select(i => (i.Name, string.Join("x", i.Dims))));

        var images = RealPhotos();
        using var first = new InferenceSession(ModelPath);
        using var second = new InferenceSession(fromCheckpoint);
        var (probabilities, cam) = Run(first, images, 0, Photos);
        var (expected, expectedCam) = Run(second, images, 0, Photos);
        Assert.True(expected.Zip(probabilities, (e, a) => Math.Abs(e - a)).Max() <= 1e-6, "probabilities differ by more than 1e-6");
        Assert.True(expectedCam.Buffer.ToArray().Zip(cam.Buffer.ToArray(), (e, a) => Math.Abs(e - a)).Max() <= 1e-4, "class activation maps differ");
    }

    [Fact]
    public void Export_Metadata_DescribesTheModel()
    {
        using var session = new InferenceSession(ModelPath);
        var metadata = ModelDescription.FromProperties(session.ModelMetadata.CustomMetadataMap, ModelPath);

        Assert.Equal(run.Report.Dataset.Classes, metadata.Labels);
        Assert.Equal(run.Report.Winner, metadata.Strategy);
        Assert.Equal(CntkResNet18.BackboneName, metadata.Backbone);
        Assert.Equal(224, metadata.InputWidth);
        Assert.Equal(ImagePreprocessing.ResizeRule, metadata.ResizeRule);
        // The exported graph's own validation loss: the winner's logits at the fitted temperature.
        Assert.Equal(run.Report.Selection!.Temperature.AppliedLoss, metadata.ValidationLoss, 9);
        Assert.Equal(run.Report.Selection.Temperature.Applied, metadata.Temperature, 12);
        Assert.Equal(ModelContract.TtaModes.None, metadata.Tta);
        Assert.Empty(metadata.Members);
        Assert.Equal(ModelContract.InputName, Assert.Single(session.InputMetadata).Key);
        Assert.Equal([-1, 224, 224, 3], session.InputMetadata[ModelContract.InputName].Dimensions);
        Assert.Equal(typeof(byte), session.InputMetadata[ModelContract.InputName].ElementType);
        Assert.Equal([ModelContract.ProbabilitiesName, ModelContract.CamName], session.OutputMetadata.Keys.Order(StringComparer.Ordinal).Reverse());
    }

    [Fact]
    public void Export_OnnxChecker_AcceptsTheFile() => OnnxChecker.AssertAccepts(ModelPath, "the model");

    [Fact]
    public void Export_OpSet_StaysOnTheCudaExecutionProvider()
    {
        using var stream = File.OpenRead(ModelPath);
        var model = Onnx.ModelProto.Parser.ParseFrom(stream);

        var used = model.Graph.Node.Select(n => n.OpType).Distinct().Order(StringComparer.Ordinal).ToList();

        Assert.Empty(used.Except(CudaOps));
        Assert.Equal(OnnxGraphBuilder.Opset, Assert.Single(model.OpsetImport).Version);
    }

    private static Onnx.ModelProto ParseModel(string path)
    {
        using var stream = File.OpenRead(path);
        return Onnx.ModelProto.Parser.ParseFrom(stream);
    }

    private static DecodedImages RealPhotos()
    {
        var files = TestData.RealPhotos("cat", Photos / 2).Select(p => new LabeledFile(p, 0))
            .Concat(TestData.RealPhotos("dog", Photos / 2).Select(p => new LabeledFile(p, 1))).ToList();
        var skipped = new List<SkippedFile>();
        var set = ImageLoader.Load(files, 224, 224, skipped);
        Assert.Empty(skipped);
        return set;
    }

    private TransferModel LoadWinner()
    {
#pragma warning disable CA2000 // the TransferModel registers backbone and head and disposes them with itself
        var model = new TransferModel(Backbones.Create(BackboneSpec.Default), new ClassifierHead(512, run.Report.Dataset.Classes.Count));
#pragma warning restore CA2000
        model.load(WinnerCheckpoint);
        model.eval();
        return model;
    }

    /// <summary>The temperature model.onnx divides its logits by.</summary>
    private double Temperature
    {
        get
        {
            using var session = new InferenceSession(ModelPath);
            return ModelDescription.FromProperties(session.ModelMetadata.CustomMetadataMap, ModelPath).Temperature;
        }
    }

    [Fact]
    public void Temperature_RealLogitsMadeOverconfidentWithTwoMislabelledPhotos_FitsAboveOneAndLowersLoss()
    {
        var images = RealPhotos();
        float[] logits;
        using (var model = LoadWinner())
        using (var scope = NewDisposeScope())
        using (no_grad())
        {
            logits = model.call(Batches.Images(images, Enumerable.Range(0, images.Count).ToArray(), CPU)).data<float>().ToArray();
        }

        // Two photos labelled as the other class: confident mistakes, which logits made 4 times larger punish hardest.
        var truth = images.Labels.ToArray();
        (truth[0], truth[^1]) = (1 - truth[0], 1 - truth[^1]);
        PredictionCandidate Candidate(float scale) => new($"winner x{scale}", TestTimeAugmentation.None, [new ValidationPredictions([.. logits.Select(l => l * scale)], run.Report.Dataset.Classes.Count, truth, images.Paths)]);
        var candidate = Candidate(4);
        var photos = Enumerable.Range(0, images.Count).ToArray();
        var temperature = TemperatureScaling.Fit(candidate, photos);

        Assert.True(temperature > 1, $"T = {temperature}");
        Assert.True(candidate.Losses(temperature).Average() < candidate.Losses(1).Average());
        // Logits 4 times larger give back 4 times the temperature of the logits as they are.
        var own = TemperatureScaling.Fit(Candidate(1), photos);
        Assert.Equal(4 * own, temperature, 4 * own * 1e-5);
    }

    private float[] TorchProbabilities(DecodedImages images, double temperature)
    {
        using var model = LoadWinner();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var input = Batches.Images(images, Enumerable.Range(0, images.Count).ToArray(), CPU);
        return nn.functional.softmax(model.call(input) / temperature, 1).data<float>().ToArray();
    }

    private static (float[] Probabilities, DenseTensor<float> Cam) Run(InferenceSession session, DecodedImages images, int first, int count)
    {
        var plane = 224 * 224 * 3;
        var pixels = new byte[count * plane];
        for (var i = 0; i < count; i++)
        {
            images.Pixels[first + i].CopyTo(pixels, i * plane);
        }

        var input = new DenseTensor<byte>(pixels.AsMemory(), new[] { count, 224, 224, 3 });
        using var results = session.Run([NamedOnnxValue.CreateFromTensor(ModelContract.InputName, input)]);
        var probabilities = results.Single(r => r.Name == ModelContract.ProbabilitiesName).AsEnumerable<float>().ToArray();
        var cam = results.Single(r => r.Name == ModelContract.CamName).AsTensor<float>().ToDenseTensor();
        return (probabilities, cam);
    }
}
