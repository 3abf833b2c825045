using DogsVsCats.Vision.Trainer.Data;
using DogsVsCats.Vision.Trainer.Training;
using static TorchSharp.torch;

namespace DogsVsCats.Vision.Tests.Training;

/// <summary>What the training loop sees of streamed photos: the old in-memory tensors, in the epoch's order, skips survived.</summary>
[Trait("Category", "Fast")]
public sealed class StreamedBatchesTests : IDisposable
{
    private const int Size = 32;

    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void Read_InAnEpochOrder_InputsEqualTheInMemoryDecodeOfThoseIndicesAndLabelsFollowTheOrder()
    {
        var files = TestData.RealPhotos("cat", 5).Select(p => new LabeledFile(p, 0)).Concat(TestData.RealPhotos("dog", 5).Select(p => new LabeledFile(p, 1))).ToList();
        var set = ImageLoader.Check(files, Size, Size, new SkipLog());
        var inMemory = ImageLoader.Load(files, Size, Size, []);
        var order = Batches.Shuffled(set.Count, new Random(7));
        var source = new ImageBatchSource(set, CPU);

        var start = 0;
        foreach (var batch in source.Read(order, batchSize: 4, augment: null))
        {
            using var scope = NewDisposeScope();
            var expected = Batches.Images(inMemory, order.AsSpan(start, batch.Count), CPU);
            Assert.Equal(expected.shape, batch.Input.shape);
            Assert.True(expected.eq(batch.Input).all().item<bool>(), $"batch at {start} differs from the in-memory decode");
            Assert.Equal(order.Skip(start).Take(batch.Count).Select(i => (long)set.Labels[i]), batch.Labels.data<long>().ToArray());
            start += batch.Count;
        }

        Assert.Equal(set.Count, start);
    }

    [Fact]
    public void Shuffled_EpochAfterEpoch_APermutationThatChangesEachEpochAndRepeatsForTheSameSeed()
    {
        var random = new Random(42);
        var epochs = Enumerable.Range(0, 3).Select(_ => Batches.Shuffled(50, random)).ToList();
        var again = new Random(42);

        Assert.All(epochs, order => Assert.Equal(Enumerable.Range(0, 50), order.Order()));
        Assert.NotEqual(epochs[0], epochs[1]);
        Assert.NotEqual(epochs[1], epochs[2]);
        Assert.All(epochs, order => Assert.Equal(order, Batches.Shuffled(50, again)));
    }

    [Fact]
    public void Evaluate_PhotoDeletedAfterTheCheck_EvaluatesTheRestAndRecordsTheSkip()
    {
        var dog = Path.Combine(_temp.Path, "dog");
        Directory.CreateDirectory(dog);
        var paths = TestData.RealPhotos("dog", 6).Select(p => Path.Combine(dog, Path.GetFileName(p))).ToList();
        foreach (var (source, copy) in TestData.RealPhotos("dog", 6).Zip(paths))
        {
            File.Copy(source, copy);
        }

        var set = ImageLoader.Check([.. paths.Select(p => new LabeledFile(p, 1))], Size, Size, new SkipLog());
        File.Delete(paths[2]);
        using var head = nn.Linear(3, 2);

        var result = Fitter.Evaluate(head, input => head.call(input.mean([2, 3])), new ImageBatchSource(set, CPU), 4, new QuietProgress(), "evaluate");

        Assert.Equal(5, result.Count);
        Assert.Equal(5, result.Truth.Length);
        Assert.Equal(5, result.Predicted.Length);
        Assert.True(double.IsFinite(result.Loss));
        Assert.Equal(paths[2], Assert.Single(set.Skipped.Files).Path);
    }
}
