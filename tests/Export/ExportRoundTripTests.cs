using System.Diagnostics;
using DogsVsCats.Vision.Shared;
using DogsVsCats.Vision.Tests.Training;
using DogsVsCats.Vision.Trainer.Data;
using DogsVsCats.Vision.Trainer.Export;
using DogsVsCats.Vision.Trainer.Models;
using DogsVsCats.Vision.Trainer.Training;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using TorchSharp;
using static TorchSharp.torch;

namespace DogsVsCats.Vision.Tests.Export;

/// <summary>The model.onnx that the small training run exported, against the TorchSharp model it came from.</summary>
[Collection(SmallRunGroup.Name)]
public sealed class ExportRoundTripTests(SmallRunFixture run)
{
    private const int Photos = 16;

    /// <summary>
    /// Op types with a CUDA kernel in ONNX Runtime (docs/OperatorKernels.md, CUDAExecutionProvider), for float and, for
    /// Cast, uint8 input; a new op must be checked there before it joins this list.
    /// </summary>
    public static readonly string[] CudaOps =
    [
        "Add", "AveragePool", "BatchNormalization", "Cast", "Concat", "Conv", "Flatten", "Gather", "Gemm", "GlobalAveragePool",
        "Identity", "MaxPool", "Mul", "Pad", "Relu", "Softmax", "Sub", "Transpose",
    ];

    private string ModelPath => Path.Combine(run.RunDirectory, TrainingRun.ModelFile);

    private string WinnerCheckpoint => run.Strategy(run.Report.Winner).CheckpointPath;

    [Fact]
    public void Export_RealPhotos_ProbabilitiesMatchTorchSharp()
    {
        var images = RealPhotos();
        var expected = TorchProbabilities(images);          // [16, C]

        using var session = new InferenceSession(ModelPath, new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL });
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
    public void Export_Cam_AveragesBackToTheLogits()
    {
        // For a global-average-pool + dense head, mean over positions of CAM_c + bias_c is logit_c exactly.
        var images = RealPhotos();
        using var session = new InferenceSession(ModelPath);
        var (probabilities, cam) = Run(session, images, 0, Photos);
        using var model = LoadWinner();
        var bias = model.Head.Dense.bias!.data<float>().ToArray();
        var classes = bias.Length;
        Assert.Equal(4, cam.Rank);
        Assert.Equal([Photos, classes, 7, 7], cam.Dimensions.ToArray());
        for (var n = 0; n < Photos; n++)
        {
            var logits = new double[classes];
            for (var c = 0; c < classes; c++)
            {
                double sum = 0;
                for (var y = 0; y < 7; y++)
                {
                    for (var x = 0; x < 7; x++)
                    {
                        sum += cam[n, c, y, x];
                    }
                }

                logits[c] = (sum / 49) + bias[c];
            }

            var max = logits.Max();
            var total = logits.Sum(l => Math.Exp(l - max));
            for (var c = 0; c < classes; c++)
            {
                Assert.Equal(probabilities[(n * classes) + c], Math.Exp(logits[c] - max) / total, 4);
            }
        }
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
        Assert.Equal(run.Strategy(run.Report.Winner).ValidationLoss, metadata.ValidationLoss, 9);
        Assert.Equal(ModelContract.InputName, Assert.Single(session.InputMetadata).Key);
        Assert.Equal([-1, 224, 224, 3], session.InputMetadata[ModelContract.InputName].Dimensions);
        Assert.Equal(typeof(byte), session.InputMetadata[ModelContract.InputName].ElementType);
        Assert.Equal([ModelContract.ProbabilitiesName, ModelContract.CamName], session.OutputMetadata.Keys.Order(StringComparer.Ordinal).Reverse());
    }

    [Fact]
    public void Export_OnnxChecker_AcceptsTheFile()
    {
        var start = new ProcessStartInfo(TestData.Python) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { "-c", "import onnx, sys; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True); print('ok')", ModelPath })
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEnd();
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"onnx.checker rejected the model (install python3-onnx with ./dogsvscats deps if it is missing): {error}");
        Assert.Equal("ok", output.Trim());
    }

    [Fact]
    public void Export_OpSet_StaysOnTheCudaExecutionProvider()
    {
        using var stream = File.OpenRead(ModelPath);
        var model = Onnx.ModelProto.Parser.ParseFrom(stream);

        var used = model.Graph.Node.Select(n => n.OpType).Distinct().Order(StringComparer.Ordinal).ToList();

        Assert.Empty(used.Except(CudaOps));
        Assert.Equal(OnnxGraphBuilder.Opset, Assert.Single(model.OpsetImport).Version);
    }

    private static ImageSet RealPhotos()
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
        var model = new TransferModel(Backbones.Create(BackboneSpec.Default), new ClassifierHead(512, run.Report.Dataset.Classes.Count));
        model.load(WinnerCheckpoint);
        model.eval();
        return model;
    }

    private float[] TorchProbabilities(ImageSet images)
    {
        using var model = LoadWinner();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var input = Batches.Images(images, Enumerable.Range(0, images.Count).ToArray(), CPU);
        return nn.functional.softmax(model.call(input), 1).data<float>().ToArray();
    }

    private static (float[] Probabilities, Tensor<float> Cam) Run(InferenceSession session, ImageSet images, int first, int count)
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
