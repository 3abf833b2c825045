using System.Collections.Concurrent;
using DogsVsCats.Vision.Shared;
using DogsVsCats.Vision.Trainer.Data;
using OpenCvSharp;

namespace DogsVsCats.Vision.Tests.Data;

[Trait("Category", "Fast")]
public sealed class ImageLoaderTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void Load_BadFilesBesideGoodOnes_SkipsEachWithItsOwnReasonAndLoadsTheRest()
    {
        TestData.CopyClassFolders(_temp.Path, 3);
        var cat = Path.Combine(_temp.Path, "cat");
        var dog = Path.Combine(_temp.Path, "dog");
        var random = new Random(1);
        var noise = new byte[4096];
        random.NextBytes(noise);
        File.WriteAllBytes(Path.Combine(cat, "corrupt.jpg"), noise);
        var photo = File.ReadAllBytes(TestData.RealPhotos("cat", 1)[0]);
        File.WriteAllBytes(Path.Combine(cat, "truncated.jpg"), photo[..(photo.Length / 2)]);
        File.WriteAllBytes(Path.Combine(dog, "empty.jpg"), []);
        File.WriteAllText(Path.Combine(dog, "text.jpg"), "this is a text file, not a JPEG");
        // Tests run as root, where chmod 000 does not stop reading; a link to nothing is unreadable for everyone.
        File.CreateSymbolicLink(Path.Combine(dog, "dangling.jpg"), Path.Combine(_temp.Path, "gone.jpg"));

        var split = DatasetScanner.Scan(_temp.Path, 0.2);
        // The scanner lists files, not folders, so a folder named like an image is handed to the loader directly.
        var folderNamedJpg = Path.Combine(_temp.Path, "folder.jpg");
        Directory.CreateDirectory(folderNamedJpg);
        var files = split.Train.Concat(split.Validation).Append(new LabeledFile(folderNamedJpg, 0)).ToList();
        var skipped = new List<SkippedFile>();
        var warned = new ConcurrentBag<SkippedFile>();
        var progress = new MaxProgress();

        var set = ImageLoader.Load(files, 32, 24, skipped, warned.Add, progress, maxParallelism: 2);

        Assert.Equal(6, set.Count);
        Assert.Equal(6, skipped.Count);
        Assert.Equal(skipped.ToHashSet(), warned.ToHashSet());
        Assert.Equal(files.Count, progress.Max);
        Assert.Equal(skipped.Select(s => s.Path), files.Select(f => f.Path).Where(p => skipped.Any(s => s.Path == p)));
        string Reason(string name) => skipped.Single(s => Path.GetFileName(s.Path) == name).Reason;
        Assert.Contains("not an image or corrupt", Reason("corrupt.jpg"), StringComparison.Ordinal);
        Assert.Contains("truncated JPEG", Reason("truncated.jpg"), StringComparison.Ordinal);
        Assert.Contains("empty file", Reason("empty.jpg"), StringComparison.Ordinal);
        Assert.Contains("not an image or corrupt", Reason("text.jpg"), StringComparison.Ordinal);
        Assert.Contains("cannot read", Reason("dangling.jpg"), StringComparison.Ordinal);
        Assert.Contains("cannot read", Reason("folder.jpg"), StringComparison.Ordinal);
        Assert.All(set.Pixels, p => Assert.Equal(32 * 24 * 3, p.Length));
        Assert.Equal([0, 0, 0, 1, 1, 1], set.Labels.Order());
        Assert.All(set.Paths.Zip(set.Labels), x => Assert.StartsWith(x.Second == 0 ? "cat." : "dog.", Path.GetFileName(x.First), StringComparison.Ordinal));
    }

    [Fact]
    public void Load_RealPhotos_PixelsEqualResizeOfDecodedFile()
    {
        var files = TestData.RealPhotos("dog", 3).Select(p => new LabeledFile(p, 1)).ToList();

        var set = ImageLoader.Load(files, 64, 48, []);

        Assert.Equal(files.Select(f => f.Path), set.Paths);
        for (var i = 0; i < files.Count; i++)
        {
            Assert.True(ImageFile.TryRead(files[i].Path, out var bgr, out _));
            using (bgr)
            using (var resized = ImagePreprocessing.Resize(bgr, 64, 48))
            {
                Assert.True(resized.GetArray(out Vec3b[] expected));
                Assert.Equal(expected.SelectMany(v => new[] { v.Item0, v.Item1, v.Item2 }), set.Pixels[i]);
            }
        }
    }

    [Fact]
    public void EnsureEveryClassPresent_ClassWithNoImagesLeft_ThrowsNamingTheClass()
    {
        var set = new ImageSet { Width = 1, Height = 1, Paths = ["a.jpg"], Labels = [0] };

        var ex = Assert.Throws<DatasetException>(() => ImageLoader.EnsureEveryClassPresent(set, ["cat", "dog"], "validation"));

        Assert.Contains("'dog'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("validation", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void EnsureEveryClassPresent_EveryClassPresent_DoesNotThrow()
    {
        var set = new ImageSet { Width = 1, Height = 1, Paths = ["a.jpg", "b.jpg"], Labels = [1, 0] };

        ImageLoader.EnsureEveryClassPresent(set, ["cat", "dog"], "train");
    }

    // Progress<T> posts to the thread pool, so a test could see its reports late; this records them synchronously.
    private sealed class MaxProgress : IProgress<int>
    {
        private int _max;

        public int Max => Volatile.Read(ref _max);

        public void Report(int value)
        {
            int seen;
            while ((seen = Volatile.Read(ref _max)) < value && Interlocked.CompareExchange(ref _max, value, seen) != seen)
            {
            }
        }
    }
}
