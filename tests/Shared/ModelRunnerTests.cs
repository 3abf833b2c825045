using DogsVsCats.Vision.Shared;
using DogsVsCats.Vision.Shared.Inference;
using DogsVsCats.Vision.Tests.Fixtures;
using DogsVsCats.Vision.Trainer.Run;
using OpenCvSharp;

namespace DogsVsCats.Vision.Tests.Shared;

/// <summary>The shared ONNX model runner on real photos with the small training run's model.</summary>
[Trait("Category", "Slow")]
[Collection(SmallRunGroup.Name)]
public sealed class ModelRunnerTests(SmallRunFixture run)
{
    private string ModelPath => Path.Combine(run.RunDirectory, TrainingRun.ModelFile);

    [Fact]
    public void Run_PixelsOfImagesResizedByTheSharedRule_SameOutputsAsTheImages()
    {
        using var runner = new ModelRunner(ModelPath);
        var photos = Photos(3);
        try
        {
            var pixels = Pixels(runner, photos);
            runner.Run(photos);
            var fromImages = Enumerable.Range(0, photos.Length).Select(runner.Probabilities).ToList();
            var camsFromImages = Enumerable.Range(0, photos.Length).Select(i => runner.Cam(i, 1).ToArray()).ToList();

            var timings = runner.Run(pixels, photos.Length);

            // The same bytes in the same batch: the same outputs, bit for bit.
            for (var i = 0; i < photos.Length; i++)
            {
                Assert.Equal(fromImages[i], runner.Probabilities(i));
                Assert.Equal(camsFromImages[i], runner.Cam(i, 1).ToArray());
                Assert.Equal(runner.CamHeight * runner.CamWidth, camsFromImages[i].Length);
            }

            Assert.Equal(1f, fromImages.Sum(p => p.Sum()) / photos.Length, 4);
            Assert.True(timings.InputMs > 0 && timings.InferenceMs > 0, timings.ToString());
        }
        finally
        {
            Array.ForEach(photos, p => p.Dispose());
        }
    }

    [Fact]
    public void Run_ShortBatchAfterALongerOne_RunsPaddedAndOnlyItsImagesHaveOutputs()
    {
        using var runner = new ModelRunner(ModelPath);
        var photos = Photos(3);
        try
        {
            runner.Run(photos);
            var first = runner.Probabilities(0);
            var pixels = Pixels(runner, photos);

            runner.Run(pixels.AsSpan(0, runner.ImageBytes), 1);

            Assert.Equal(first, runner.Probabilities(0), (a, b) => Math.Abs(a - b) <= 1e-5f);
            Assert.Throws<ArgumentOutOfRangeException>(() => runner.Probabilities(1));
            Assert.Throws<ArgumentOutOfRangeException>(() => runner.Cam(0, runner.Labels.Count).Length);
        }
        finally
        {
            Array.ForEach(photos, p => p.Dispose());
        }
    }

    [Fact]
    public void Run_ExactBatches_ShortBatchRunsAtItsOwnSizeWithTheSameOutputs()
    {
        using var padded = new ModelRunner(ModelPath);
        using var exact = new ModelRunner(ModelPath, exactBatches: true);
        var photos = Photos(4);
        try
        {
            var pixels = Pixels(padded, photos);
            padded.Run(pixels, 4);
            exact.Run(pixels, 4);

            padded.Run(pixels.AsSpan(0, 2 * padded.ImageBytes), 2);
            exact.Run(pixels.AsSpan(0, 2 * exact.ImageBytes), 2);

            // Padded, two images cost a batch of four; exact, a batch of two, with the same probabilities.
            Assert.Equal((4, 2), (padded.LastRunSize, exact.LastRunSize));
            Assert.All(Enumerable.Range(0, 2), i => Assert.Equal(padded.Probabilities(i), exact.Probabilities(i), (a, b) => Math.Abs(a - b) <= 1e-5f));
            Assert.Throws<ArgumentOutOfRangeException>(() => exact.Probabilities(2));
        }
        finally
        {
            Array.ForEach(photos, p => p.Dispose());
        }
    }

    [Fact]
    public void Run_PixelsOfTheWrongLength_ThrowsNamingTheModelsSize()
    {
        using var runner = new ModelRunner(ModelPath);
        var (width, height) = (runner.Description.InputWidth, runner.Description.InputHeight);

        var error = Assert.Throws<ArgumentException>(() => runner.Run(new byte[(runner.ImageBytes * 2) - 1], 2));

        Assert.Contains($"{width}x{height}", error.Message, StringComparison.Ordinal);
        Assert.Throws<InvalidOperationException>(() => runner.Probabilities(0));
    }

    [Fact]
    public void InputSlots_WrittenFromOtherThreads_RunAsTheImagesResized()
    {
        using var runner = new ModelRunner(ModelPath);
        var photos = Photos(2);
        try
        {
            runner.Run(photos);
            var expected = Enumerable.Range(0, photos.Length).Select(runner.Probabilities).ToList();

            var slots = runner.InputSlots(photos.Length);
            Parallel.For(0, photos.Length, i => ImagePreprocessing.ResizeInto(photos[i], slots[i], runner.Description.InputWidth, runner.Description.InputHeight));
            runner.Run();

            Assert.Equal(2, slots.Count);
            Assert.All(Enumerable.Range(0, photos.Length), i => Assert.Equal(expected[i], runner.Probabilities(i)));
            Assert.Throws<InvalidOperationException>(runner.Run);
        }
        finally
        {
            Array.ForEach(photos, p => p.Dispose());
        }
    }

    /// <summary>The photos resized by the shared rule, as one uint8 [N, H, W, 3] BGR buffer.</summary>
    private static byte[] Pixels(ModelRunner runner, Mat[] photos)
    {
        var pixels = new byte[photos.Length * runner.ImageBytes];
        for (var i = 0; i < photos.Length; i++)
        {
            using var resized = ImagePreprocessing.Resize(photos[i], runner.Description.InputWidth, runner.Description.InputHeight);
            resized.AsSpan<byte>().CopyTo(pixels.AsSpan(i * runner.ImageBytes, runner.ImageBytes));
        }

        return pixels;
    }

    private static Mat[] Photos(int count) =>
        TestData.RealPhotos("cat", count / 2).Concat(TestData.RealPhotos("dog", count - (count / 2)))
            .Select(p => ImageFile.TryRead(p, out var bgr, out var error) ? bgr : throw new InvalidOperationException(error))
            .ToArray();
}
