using DogsVsCats.Vision.Realtime.Inference;
using DogsVsCats.Vision.Shared;
using DogsVsCats.Vision.Trainer.Data;
using DogsVsCats.Vision.Trainer.Export;
using DogsVsCats.Vision.Trainer.Models;
using DogsVsCats.Vision.Trainer.Run;
using DogsVsCats.Vision.Trainer.Strategies;
using DogsVsCats.Vision.Trainer.Training;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.ML.OnnxRuntime;
using OpenCvSharp;
using static TorchSharp.torch;

namespace DogsVsCats.Vision.Tests.Export;

/// <summary><c>--image-size</c>: a short run at 160 px exports a model that says so, and ONNX Runtime runs it at that size.</summary>
[Trait("Category", "Slow")]
public sealed class ImageSizeExportTests
{
    private const int Size = 160;

    [Fact]
    public void Train_ImageSize160_ExportsA160PixelModelThatMatchesTorchSharp()
    {
        var root = TestData.NewTempDirectory();
        try
        {
            var request = new RunRequest
            {
                DataRoot = TestData.DogsVsCatsRoot,
                Strategy = FeaturesStrategy.StrategyName,
                Backbone = BackboneSpec.Default with { ImageSize = Size },
                LimitPerClass = 8,
                ValidationFraction = 0.25,
                OutputRoot = Path.Combine(root, "runs"),
                // One plain pass, so the file compares with the checkpoint run once in TorchSharp.
                Tta = TestTimeAugmentation.None,
            };
            var settings = new TrainingSettings { BatchSize = 8, Epochs = 2, CacheDirectory = Path.Combine(root, "cache") };
            var (report, directory) = TrainingRun.Execute(request, settings, new QuietProgress());

            var modelPath = Path.Combine(directory, TrainingRun.ModelFile);
            double temperature;
            using (var session = new InferenceSession(modelPath))
            {
                var metadata = ModelDescription.FromProperties(session.ModelMetadata.CustomMetadataMap, modelPath);
                temperature = metadata.Temperature;
                Assert.Equal((Size, Size), (metadata.InputWidth, metadata.InputHeight));
                Assert.Equal([-1, Size, Size, 3], session.InputMetadata[ModelContract.InputName].Dimensions);
            }

            // TorchSharp on the checkpoint at 160 px against the realtime app on the exported file, same photos.
            var photos = TestData.RealPhotos("cat", 2).Concat(TestData.RealPhotos("dog", 2)).ToList();
            var images = ImageLoader.Load([.. photos.Select((p, i) => new LabeledFile(p, i / 2))], Size, Size, []);
            float[] expected;
#pragma warning disable CA2000 // the TransferModel registers backbone and head and disposes them with itself
            using (var model = new TransferModel(Backbones.Architecture(CntkResNet18.BackboneName, Size), new ClassifierHead(512, 2)))
#pragma warning restore CA2000
            using (var scope = NewDisposeScope())
            using (var noGrad = no_grad())
            {
                model.load(report.Strategies.Single().CheckpointPath);
                model.eval();
                expected = nn.functional.softmax(model.call(Batches.Images(images, [0, 1, 2, 3], CPU)) / temperature, 1).data<float>().ToArray();
            }

            using var classifier = new Classifier(modelPath, InferenceDevice.Cpu, 0, NullLogger.Instance);
            var mats = photos.Select(p => Cv2.ImRead(p)).ToArray();
            try
            {
                var predictions = classifier.Classify(mats);
                for (var i = 0; i < 4; i++)
                {
                    Assert.Equal(expected.Skip(i * 2).Take(2), predictions[i].Probabilities, (a, b) => Math.Abs(a - b) <= 1e-4f);
                    _ = classifier.Cam(i, 0, out var camHeight, out var camWidth);
                    Assert.Equal((Size / 32, Size / 32), (camHeight, camWidth));   // 5 x 5 feature maps at 160 px
                }
            }
            finally
            {
                Array.ForEach(mats, m => m.Dispose());
            }
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
