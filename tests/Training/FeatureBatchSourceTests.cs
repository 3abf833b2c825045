using DogsVsCats.Vision.Trainer.Training;
using static TorchSharp.torch;

namespace DogsVsCats.Vision.Tests.Training;

/// <summary>Batches of cached vectors name their photos: with photos left out during extraction, row i is not photo i.</summary>
[Trait("Category", "Fast")]
public sealed class FeatureBatchSourceTests
{
    [Fact]
    public void Read_RowsOfSkippedExtraction_IndicesAreThePhotos()
    {
        using var features = arange(4 * 2, dtype: ScalarType.Float32).reshape(4, 2);
        var source = new FeatureBatchSource(features, [0, 1, 1, 0], photos: [0, 2, 3, 5]);   // photos 1 and 4 unreadable

        var batches = source.Read([3, 0, 2, 1], batchSize: 3, augment: null).Select(b => (b.Indices, Rows: b.Input.data<float>().ToArray(), Labels: b.Labels.data<long>().ToArray())).ToList();

        Assert.Equal([5, 0, 3], batches[0].Indices);
        Assert.Equal([6f, 7f, 0f, 1f, 4f, 5f], batches[0].Rows);
        Assert.Equal([0L, 0L, 1L], batches[0].Labels);
        Assert.Equal([2], batches[1].Indices);
    }

    [Fact]
    public void Read_NoPhotoSkipped_IndicesAreTheRows()
    {
        using var features = zeros(3, 2);
        var source = new FeatureBatchSource(features, [0, 1, 0]);
        Assert.Equal([2, 0, 1], source.Read([2, 0, 1], batchSize: 8, augment: null).Single().Indices);
    }
}
