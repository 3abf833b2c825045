using DogsVsCats.Vision.Realtime.Inference;
using DogsVsCats.Vision.Shared;
using DogsVsCats.Vision.Tests.Export;
using DogsVsCats.Vision.Tests.Fixtures;
using DogsVsCats.Vision.Trainer.Data;
using DogsVsCats.Vision.Trainer.Models;
using DogsVsCats.Vision.Trainer.Run;
using DogsVsCats.Vision.Trainer.Strategies;
using DogsVsCats.Vision.Trainer.Training;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using OpenCvSharp;
using TorchSharp;
using static TorchSharp.torch;

namespace DogsVsCats.Vision.Tests.BackboneTests;

/// <summary>
/// The three strategies, the export and the realtime app with each torchvision backbone (random weights from the
/// reference script: these tests check the plumbing, shapes and numbers, not accuracy).
/// </summary>
[Collection(TorchvisionGroup.Name)]
[Trait("Category", "Slow")]
public sealed class TorchvisionTrainingTests(TorchvisionReferenceFixture references)
{
    public static TheoryData<string> Architectures => [TorchvisionResNet50.BackboneName, TorchvisionInceptionV3.BackboneName];

    [Theory]
    [MemberData(nameof(Architectures))]
    public void Train_AllStrategies_RunAndExportAtTheBackbonesSize(string architecture)
    {
        var (report, directory) = references.SmallRun(architecture);
        Assert.StartsWith(architecture + " (weights ", report.Backbone, StringComparison.Ordinal);
        Assert.Equal(StrategyRegistry.Plan(StrategyRegistry.All).Select(s => s.Name), report.Strategies.Select(s => s.Strategy));
        Assert.All(report.Strategies, s => Assert.True(double.IsFinite(s.ValidationLoss) && File.Exists(s.CheckpointPath), $"{s.Strategy}: loss {s.ValidationLoss}"));
        // Random backbones give features with no signal: losses are only checked for being sane, not for falling.
        Assert.All(report.Strategies.SelectMany(s => s.Epochs), e => Assert.True(double.IsFinite(e.TrainLoss) && e.TrainLoss < 10, $"train loss {e.TrainLoss}"));
        Assert.Contains(report.Strategies.Single(s => s.Strategy == FinetuneStrategy.StrategyName).Notes, n => n.Contains($"Unfrozen: {Backbones.Describe(architecture).LastStageName} (whole blocks)", StringComparison.Ordinal));

        using var session = new InferenceSession(Path.Combine(directory, TrainingRun.ModelFile));
        var metadata = ModelDescription.FromProperties(session.ModelMetadata.CustomMetadataMap, "model.onnx");
        var info = Backbones.Describe(architecture);
        Assert.Equal((architecture, info.InputWidth, info.InputHeight, info.Preprocessing), (metadata.Backbone, metadata.InputWidth, metadata.InputHeight, metadata.Preprocessing));
        Assert.Equal([-1, info.InputHeight, info.InputWidth, 3], session.InputMetadata[ModelContract.InputName].Dimensions);
    }

    [Theory]
    [MemberData(nameof(Architectures))]
    public void Frozen_AfterTraining_BackboneIdenticalToTheWeightsFile(string architecture)
    {
        var changed = ChangedBackboneTensors(architecture, FrozenStrategy.StrategyName);
        Assert.Empty(changed);
    }

    [Theory]
    [MemberData(nameof(Architectures))]
    public void Finetune_AfterTraining_OnlyTheLastStageChanged_EveryConvolutionOfIt(string architecture)
    {
        var changed = ChangedBackboneTensors(architecture, FinetuneStrategy.StrategyName);
        var last = Backbones.Describe(architecture).LastStageName;
        Assert.NotEmpty(changed);
        Assert.All(changed, name => Assert.StartsWith($"backbone.{last}.", name, StringComparison.Ordinal));
        using var backbone = Backbones.Architecture(architecture);
        var convolutions = backbone.named_parameters().Where(p => p.name.StartsWith(last + ".", StringComparison.Ordinal) && p.parameter.dim() == 4).Select(p => "backbone." + p.name).ToList();
        Assert.Equal(architecture == TorchvisionResNet50.BackboneName ? 10 : 9, convolutions.Count);   // layer4: 3 blocks x 3 + shortcut; Mixed_7c: 9
        Assert.Empty(convolutions.Except(changed));
    }

    [Theory]
    [MemberData(nameof(Architectures))]
    public void Export_RealPhotos_OnnxRuntimeMatchesTorchSharpAndTheRealtimeApp(string architecture)
    {
        var (report, directory) = references.SmallRun(architecture);
        var info = Backbones.Describe(architecture);
        var photos = TestData.RealPhotos("cat", 2).Concat(TestData.RealPhotos("dog", 2)).ToList();
        var images = ImageLoader.Load([.. photos.Select((p, i) => new LabeledFile(p, i / 2))], info.InputWidth, info.InputHeight, []);

        // TorchSharp, the winner's checkpoint in eval mode.
        float[] expected;
#pragma warning disable CA2000 // the TransferModel registers backbone and head and disposes them with itself
        using (var model = new TransferModel(Backbones.Architecture(architecture), new ClassifierHead(info.FeatureChannels, 2)))
#pragma warning restore CA2000
        using (var scope = NewDisposeScope())
        using (var noGrad = no_grad())
        {
            model.load(report.Strategies.Single(s => s.Strategy == report.Winner).CheckpointPath);
            model.eval();
            // The export divides the logits by the temperature the run fitted (1 when it kept none).
            var temperature = report.Selection!.Temperature.Applied;
            expected = nn.functional.softmax(model.call(Batches.Images(images, [0, 1, 2, 3], CPU)) / temperature, 1).data<float>().ToArray();
        }

        // ONNX Runtime, the exported file, uint8 BGR pixels.
        var modelPath = Path.Combine(directory, TrainingRun.ModelFile);
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
        using var session = new InferenceSession(modelPath, options);
        var pixels = images.Pixels.SelectMany(p => p).ToArray();
        using var results = session.Run([NamedOnnxValue.CreateFromTensor(ModelContract.InputName, new DenseTensor<byte>(pixels.AsMemory(), new[] { 4, info.InputHeight, info.InputWidth, 3 }))]);
        var probabilities = results.Single(r => r.Name == ModelContract.ProbabilitiesName).AsEnumerable<float>().ToArray();
        var cam = results.Single(r => r.Name == ModelContract.CamName).AsTensor<float>();
        var worst = expected.Zip(probabilities, (e, a) => Math.Abs(e - a)).Max();
        Assert.True(worst <= 1e-4, $"{architecture}: ONNX Runtime and TorchSharp differ by {worst:g3}");
        var side = architecture == TorchvisionInceptionV3.BackboneName ? 8 : 7;
        Assert.Equal([4, 2, side, side], cam.Dimensions.ToArray());

        // Every op still has a CUDA kernel in ONNX Runtime.
        var ops = Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes(modelPath)).Graph.Node.Select(n => n.OpType).Distinct();
        Assert.Empty(ops.Except(ExportRoundTripTests.CudaOps));

        // The realtime app, unchanged, reads size and labels from the file and agrees.
        using var classifier = new Classifier(modelPath, InferenceDevice.Cpu, 0, NullLogger.Instance);
        var mats = photos.Select(p => Cv2.ImRead(p)).ToArray();
        try
        {
            var predictions = classifier.Classify(mats);
            for (var i = 0; i < 4; i++)
            {
                Assert.Equal(probabilities.Skip(i * 2).Take(2), predictions[i].Probabilities, (a, b) => Math.Abs(a - b) <= 1e-5f);
            }
        }
        finally
        {
            Array.ForEach(mats, m => m.Dispose());
        }
    }

    private List<string> ChangedBackboneTensors(string architecture, string strategy) => BackboneChanges.InCheckpoint(
        new BackboneSpec(architecture, references.Weights(architecture, ".pth")), 2,
        references.SmallRun(architecture).Report.Strategies.Single(s => s.Strategy == strategy).CheckpointPath);
}
