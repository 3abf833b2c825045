using System.Globalization;
using DogsVsCats.Vision.Realtime.Inference;
using DogsVsCats.Vision.Shared;
using DogsVsCats.Vision.Tests.Fixtures;
using DogsVsCats.Vision.Trainer.Run;
using Microsoft.Extensions.Logging.Abstractions;
using OpenCvSharp;

namespace DogsVsCats.Vision.Tests.Realtime;

/// <summary>The realtime classifier on real photos with the small training run's model.</summary>
[Trait("Category", "Slow")]
[Collection(SmallRunGroup.Name)]
public sealed class ClassifierTests(SmallRunFixture run)
{
    private string ModelPath => Path.Combine(run.RunDirectory, TrainingRun.ModelFile);

    [Fact]
    public void Classify_Batch4AndOneByOne_SameProbabilitiesAndTimings()
    {
        using var classifier = new Classifier(ModelPath, InferenceDevice.Cpu, 0, NullLogger.Instance);
        var images = Photos(4);
        try
        {
            var batch = classifier.Classify(images);
            for (var i = 0; i < images.Length; i++)
            {
                var single = classifier.Classify([images[i]])[0];
                Assert.Equal(batch[i].Probabilities, single.Probabilities, (a, b) => Math.Abs(a - b) <= 1e-5f);
                Assert.Equal((images[i].Width, images[i].Height), (single.Width, single.Height));
                Assert.Equal(1, single.BatchSize);
            }

            Assert.All(batch, p => Assert.Equal(1f, p.Probabilities.Sum(), 4));
            Assert.All(batch, p => Assert.True(p.Timings.PreprocessMs > 0 && p.Timings.InferenceMs > 0 && p.Timings.PostprocessMs >= 0, p.Timings.ToString()));
            Assert.Equal(classifier.Description.Labels, batch[0].Labels);
        }
        finally
        {
            Array.ForEach(images, i => i.Dispose());
        }
    }

    [Fact]
    public void Classify_ManyCalls_ManagedAllocationsStayFlat()
    {
        using var classifier = new Classifier(ModelPath, InferenceDevice.Cpu, 0, NullLogger.Instance);
        var images = Photos(2);
        try
        {
            classifier.Classify(images);   // buffers for batch 2 are made here, once
            var before = GC.GetAllocatedBytesForCurrentThread();
            for (var i = 0; i < 20; i++)
            {
                classifier.Classify(images);
            }

            // Only the small result records: a per-call input or output buffer would be 224*224*3*2 = 301 KB each time.
            var perCall = (GC.GetAllocatedBytesForCurrentThread() - before) / 20;
            Assert.True(perCall < 4096, $"{perCall} bytes allocated per call");
        }
        finally
        {
            Array.ForEach(images, i => i.Dispose());
        }
    }

    [Fact]
    public void Classify_FewerImagesThanABatchMadeBefore_RunsPaddedInThatBatch()
    {
        using var classifier = new Classifier(ModelPath, InferenceDevice.Cpu, 0, NullLogger.Instance);
        var images = Photos(4);
        try
        {
            var four = classifier.Classify(images);
            var before = GC.GetAllocatedBytesForCurrentThread();

            // A folder's short last batch: 3 images in the batch-4 buffers (new buffers for 3 would be 3 x 150 KB).
            var three = classifier.Classify(images[..3]);

            var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.True(allocated < 4096, $"{allocated} bytes allocated: the short batch made its own buffers");
            Assert.Equal(3, three.Count);
            for (var i = 0; i < three.Count; i++)
            {
                Assert.Equal(four[i].Probabilities, three[i].Probabilities, (a, b) => Math.Abs(a - b) <= 1e-5f);
                Assert.Equal(3, three[i].BatchSize);
            }
        }
        finally
        {
            Array.ForEach(images, i => i.Dispose());
        }
    }

    [Fact]
    public void Cam_AfterClassify_IsTheModelsMapForThatImageAndClass()
    {
        using var classifier = new Classifier(ModelPath, InferenceDevice.Cpu, 0, NullLogger.Instance);
        // No mirrored pass: each probability is softmax((mean of its class's map + that class's bias) / T) of one map.
        Assert.Equal(ModelContract.TtaModes.None, classifier.Description.Tta);
        Assert.Equal(2, classifier.Description.Labels.Count);
        var images = Photos(4);
        try
        {
            var predictions = classifier.Classify(images);
            var temperature = classifier.Description.Temperature;
            // So for every image T * ln(p_dog / p_cat) - (mean dog map - mean cat map) is the same number, the dense layer's
            // bias_dog - bias_cat: a map from another image, or of another class, breaks it.
            var gaps = new double[images.Length];
            var biases = new double[images.Length];
            for (var i = 0; i < images.Length; i++)
            {
                var cat = Mean(classifier.Cam(i, 0, out var height, out var width));
                var dog = Mean(classifier.Cam(i, 1, out _, out _));
                Assert.Equal((7, 7), (height, width));
                var probabilities = predictions[i].Probabilities;
                gaps[i] = dog - cat;
                biases[i] = (temperature * Math.Log((double)probabilities[1] / probabilities[0])) - gaps[i];
            }

            Assert.True(gaps.Max() - gaps.Min() > 0.5, $"the images' maps barely differ ({string.Join(", ", gaps.Select(g => g.ToString("F3", CultureInfo.InvariantCulture)))}): a swap would go unseen");
            Assert.True(biases.Max() - biases.Min() < 1e-3, $"bias_dog - bias_cat differs between images: {string.Join(", ", biases.Select(b => b.ToString("F5", CultureInfo.InvariantCulture)))}");
        }
        finally
        {
            Array.ForEach(images, i => i.Dispose());
        }

        static double Mean(ReadOnlySpan<float> values)
        {
            double sum = 0;
            foreach (var v in values)
            {
                sum += v;
            }

            return sum / values.Length;
        }
    }

    [Fact]
    public void ClassifyPixels_ImagesResizedByTheSharedRule_SamePredictionsAsClassify()
    {
        using var classifier = new Classifier(ModelPath, InferenceDevice.Cpu, 0, NullLogger.Instance);
        var (width, height) = (classifier.Description.InputWidth, classifier.Description.InputHeight);
        var images = Photos(2);
        try
        {
            var expected = classifier.Classify(images);
            var imageBytes = width * height * 3;
            var pixels = new byte[images.Length * imageBytes];
            for (var i = 0; i < images.Length; i++)
            {
                using var resized = ImagePreprocessing.Resize(images[i], width, height);
                resized.AsSpan<byte>().CopyTo(pixels.AsSpan(i * imageBytes));
            }

            var predictions = classifier.ClassifyPixels(pixels, images.Length, width, height);

            Assert.Equal(expected.Select(p => p.Probabilities), predictions.Select(p => p.Probabilities));
            Assert.All(predictions, p => Assert.Equal((width, height, 2), (p.Width, p.Height, p.BatchSize)));
            Assert.All(predictions, p => Assert.True(p.Timings.PreprocessMs > 0 && p.Timings.InferenceMs > 0, p.Timings.ToString()));
            var error = Assert.Throws<ArgumentException>(() => classifier.ClassifyPixels(pixels, images.Length, width + 1, height));
            Assert.Contains($"{width}x{height}", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            Array.ForEach(images, i => i.Dispose());
        }
    }

    [Fact]
    public void Classifier_ModelWithoutContractMetadata_ThrowsWithWhatToDo()
    {
        var foreign = Path.Combine(AppContext.BaseDirectory, "models", "ResNet18.onnx");

        var error = Assert.Throws<ModelContractException>(() => new Classifier(foreign, InferenceDevice.Cpu, 0, NullLogger.Instance));

        Assert.Contains("trainer export", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Classifier_DeviceCudaWithoutCuda_FailsWithMessage()
    {
        try
        {
            using var cuda = new Classifier(ModelPath, InferenceDevice.Cuda, 0, NullLogger.Instance);
            Assert.Equal("CUDA", cuda.Device);   // a machine where CUDA loads: the explicit request is honoured
        }
        catch (InvalidOperationException e)
        {
            Assert.Contains("--device auto|cpu", e.Message, StringComparison.Ordinal);
            using var auto = new Classifier(ModelPath, InferenceDevice.Auto, 0, NullLogger.Instance);
            Assert.Equal("CPU", auto.Device);
        }
    }

    private static Mat[] Photos(int count) =>
        TestData.RealPhotos("cat", count / 2).Concat(TestData.RealPhotos("dog", count - (count / 2)))
            .Select(p => ImageFile.TryRead(p, out var bgr, out var error) ? bgr : throw new InvalidOperationException(error))
            .ToArray();
}
