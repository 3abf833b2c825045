using DogsVsCats.Vision.Trainer.Strategies;
using static TorchSharp.torch;

namespace DogsVsCats.Vision.Tests.Training;

/// <summary>The feature cache file: what is written is read back exactly, in chunks, and a damaged file is never trusted.</summary>
[Trait("Category", "Fast")]
public sealed class FeatureCacheTests : IDisposable
{
    // 1,100 x 512 = 563,200 floats: two whole chunks and a part of a third, so chunk edges fall inside rows.
    private const int Count = 1100;
    private const int Dimension = 512;

    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void SaveThenTryLoad_SeveralChunks_SameFloatsAndLabels()
    {
        Assert.True(Count * Dimension > 2 * FeatureCache.ChunkFloats);
        var (floats, labels) = Sample(seed: 1);
        var path = Path.Combine(_temp.Path, "features.bin");
        using (var features = tensor(floats, [Count, Dimension]))
        {
            FeatureCache.Save(path, features, labels);
        }

        Assert.True(FeatureCache.TryLoad(path, out var loaded, out var loadedLabels));
        using (loaded)
        {
            Assert.Equal([Count, Dimension], loaded.shape);
            Assert.Equal(floats, loaded.data<float>().ToArray());
            Assert.Equal(labels, loadedLabels);
        }
    }

    [Fact]
    public void TryLoad_FileInTheArrayLayout_LoadsIdenticallyAndSaveWritesTheSameBytes()
    {
        var (floats, labels) = Sample(seed: 2);
        // The layout caches were first written in (a whole float[] and int[] after the header): they must still load.
        var old = Path.Combine(_temp.Path, "old.bin");
        using (var writer = new BinaryWriter(File.Create(old)))
        {
            writer.Write("DVCFEAT1");
            writer.Write(Count);
            writer.Write(Dimension);
            foreach (var value in floats)
            {
                writer.Write(value);
            }

            foreach (var label in labels)
            {
                writer.Write(label);
            }
        }

        Assert.True(FeatureCache.TryLoad(old, out var loaded, out var loadedLabels));
        using (loaded)
        {
            Assert.Equal([Count, Dimension], loaded.shape);
            Assert.Equal(floats, loaded.data<float>().ToArray());
            Assert.Equal(labels, loadedLabels);

            var saved = Path.Combine(_temp.Path, "saved.bin");
            FeatureCache.Save(saved, loaded, loadedLabels);
            Assert.Equal(File.ReadAllBytes(old), File.ReadAllBytes(saved));
        }
    }

    [Theory]
    [InlineData(4)]                                // inside the labels
    [InlineData(Count * 4 + 1_000)]                // inside the floats' last chunk
    [InlineData(Count * 4 + Count * Dimension * 4)] // right after the header
    public void TryLoad_TruncatedFile_ReturnsFalse(int bytesCut)
    {
        var (floats, labels) = Sample(seed: 3);
        var path = Path.Combine(_temp.Path, "features.bin");
        using (var features = tensor(floats, [Count, Dimension]))
        {
            FeatureCache.Save(path, features, labels);
        }

        using (var file = File.OpenWrite(path))
        {
            file.SetLength(file.Length - bytesCut);
        }

        Assert.False(FeatureCache.TryLoad(path, out var loaded, out _));
        Assert.Null(loaded);
    }

    private static (float[] Floats, int[] Labels) Sample(int seed)
    {
        var random = new Random(seed);
        var floats = new float[Count * Dimension];
        for (var i = 0; i < floats.Length; i++)
        {
            floats[i] = (float)(random.NextDouble() * 10 - 2);
        }

        var labels = new int[Count];
        for (var i = 0; i < labels.Length; i++)
        {
            labels[i] = random.Next(2);
        }

        return (floats, labels);
    }
}
