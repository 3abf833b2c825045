using DogsVsCats.Vision.Trainer.Data;
using DogsVsCats.Vision.Trainer.Models;
using DogsVsCats.Vision.Trainer.Strategies;
using static TorchSharp.torch;

namespace DogsVsCats.Vision.Tests.Training;

/// <summary>
/// The feature cache file: what is written is read back exactly, in chunks, and a damaged file is never trusted; its key
/// changes with whatever changes a vector (the backbone's weight bytes, the image size, the photos).
/// </summary>
[Trait("Category", "Fast")]
public sealed class FeatureCacheTests : IDisposable
{
    // 1,100 x 512 = 563,200 floats: two whole chunks and a part of a third, so chunk edges fall inside rows.
    private const int Count = 1100;
    private const int Dimension = 512;

    private static readonly string[] Classes = ["cat", "dog"];

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

    [Fact]
    public void Key_WeightFileChangedInPlace_Misses()
    {
        // A torchvision backbone's --weights file: same path and length, one byte different.
        var file = Path.Combine(_temp.Path, "weights.pth");
        var bytes = new byte[4096];
        new Random(4).NextBytes(bytes);
        File.WriteAllBytes(file, bytes);
        var spec = new BackboneSpec(TorchvisionResNet50.BackboneName, file);
        var images = Check(Photos(3), spec.Info.InputWidth);
        string Key() => FeatureCache.Key(spec.Info, FeatureCache.WeightsDigest(Backbones.WeightFiles(spec)), images, Classes);
        var before = Key();
        Assert.Equal(before, Key());

        bytes[2048] ^= 1;
        File.WriteAllBytes(file, bytes);

        Assert.NotEqual(before, Key());
    }

    [Fact]
    public void Key_OtherImageSize_Misses()
    {
        var info = Backbones.Describe(CntkResNet18.BackboneName);
        var files = Photos(3);
        var native = FeatureCache.Key(info, "weights", Check(files, info.InputWidth), Classes);

        Assert.Equal(native, FeatureCache.Key(info, "weights", Check(files, info.InputWidth), Classes));
        Assert.NotEqual(native, FeatureCache.Key(info.WithSize(256), "weights", Check(files, 256), Classes));
    }

    [Fact]
    public void Key_OtherPhotoSet_Misses()
    {
        var info = Backbones.Describe(CntkResNet18.BackboneName);
        var files = Photos(3);
        string Key(IReadOnlyList<LabeledFile> set) => FeatureCache.Key(info, "weights", Check(set, info.InputWidth), Classes);
        var before = Key(files);
        Assert.Equal(before, Key([.. files]));

        Assert.NotEqual(before, Key(files.Skip(1).ToList()));                                  // one photo fewer
        Assert.NotEqual(before, Key([.. files, Photos(4)[3]]));                                // one more
        Assert.NotEqual(before, Key([.. files.Select((f, i) => i == 0 ? f with { Label = 1 - f.Label } : f)]));   // relabelled

        // The same file name holding another photo's bytes.
        File.Copy(files[^1].Path, files[0].Path, overwrite: true);
        Assert.NotEqual(before, Key(files));
    }

    /// <summary>Copies of the first <paramref name="perClass"/> cat and dog photos in the test's folder, labelled 0 and 1.</summary>
    private List<LabeledFile> Photos(int perClass)
    {
        var root = Path.Combine(_temp.Path, $"photos-{perClass}");
        if (!Directory.Exists(root))
        {
            TestData.CopyClassFolders(root, perClass);
        }

        return [.. Classes.SelectMany((name, label) => Directory.GetFiles(Path.Combine(root, name)).Order(StringComparer.Ordinal).Select(p => new LabeledFile(p, label)))];
    }

    private static ImageSet Check(IReadOnlyList<LabeledFile> files, int size)
    {
        var set = ImageLoader.Check(files, size, size, new SkipLog());
        Assert.Equal(files.Count, set.Count);
        return set;
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
