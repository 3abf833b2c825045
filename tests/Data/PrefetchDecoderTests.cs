using DogsVsCats.Vision.Shared;
using DogsVsCats.Vision.Trainer.Data;
using OpenCvSharp;

namespace DogsVsCats.Vision.Tests.Data;

[Trait("Category", "Fast")]
public sealed class PrefetchDecoderTests : IDisposable
{
    private const int Width = 64;
    private const int Height = 48;
    private const int Plane = Width * Height * 3;

    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void Read_RealPhotosInAShuffledOrder_BatchesHoldTheResizeOfEachDecodedFileInThatOrder()
    {
        var set = Checked(TestData.RealPhotos("cat", 3).Concat(TestData.RealPhotos("dog", 3)).ToList());
        int[] order = [4, 0, 5, 2, 1, 3];
        using var decoder = new PrefetchDecoder(threads: 2, prefetch: 2);

        var batches = decoder.Read(set, order, batchSize: 4).Select(b => (b.Indices, Pixels: b.Pixels[..(b.Count * Plane)])).ToList();

        Assert.Equal([4, 2], batches.Select(b => b.Indices.Length));
        Assert.Equal(order, batches.SelectMany(b => b.Indices));
        foreach (var (indices, pixels) in batches)
        {
            for (var i = 0; i < indices.Length; i++)
            {
                Assert.Equal(ResizeOfDecodedFile(set.Paths[indices[i]]), pixels[(i * Plane)..((i + 1) * Plane)]);
            }
        }
    }

    [Fact]
    public void Read_ConsumerHoldsTheFirstBatch_DecodesAheadButNeverMoreThanPrefetchBatches()
    {
        var set = Checked([.. TestData.RealPhotos("cat", 6), .. TestData.RealPhotos("dog", 6)]);
        using var decoder = new PrefetchDecoder(threads: 2, prefetch: 3);

        using (var batches = decoder.Read(set, [.. Enumerable.Range(0, set.Count)], batchSize: 1).GetEnumerator())
        {
            Assert.True(batches.MoveNext());
            // The consumer is slow: the decoders run ahead to the bound. Batches are scheduled only when the consumer asks
            // for the next one, so while it holds the first, what is held is all that may ever be decoded: no wait for
            // "nothing more happens" is needed, only one for the decoders to reach the bound.
            Assert.True(SpinWait.SpinUntil(() => decoder.Decoded >= 3, TimeSpan.FromSeconds(10)), $"only {decoder.Decoded} photos decoded ahead");
            Assert.Equal(3, decoder.MaxHeld);
            Assert.Equal(3, decoder.Decoded);
            while (batches.MoveNext())
            {
            }
        }

        Assert.Equal(12, decoder.Decoded);
        Assert.Equal(3, decoder.MaxHeld);
    }

    [Fact]
    public void Read_PhotosDeletedAndCutShortAfterTheCheck_SkippedWithReasonsCountedOnceAndTheRestDecoded()
    {
        var cat = Path.Combine(_temp.Path, "cat");
        Directory.CreateDirectory(cat);
        var paths = TestData.RealPhotos("cat", 5).Select(p => Path.Combine(cat, Path.GetFileName(p))).ToList();
        foreach (var (source, copy) in TestData.RealPhotos("cat", 5).Zip(paths))
        {
            File.Copy(source, copy);
        }

        var warned = new List<SkippedFile>();
        var skipped = new SkipLog(warned.Add);
        var set = ImageLoader.Check([.. paths.Select(p => new LabeledFile(p, 0))], Width, Height, skipped);
        Assert.Equal(5, set.Count);
        // Between the check and the pass: one photo deleted, one cut to its first half (the end marker gone).
        File.Delete(paths[1]);
        var bytes = File.ReadAllBytes(paths[3]);
        File.WriteAllBytes(paths[3], bytes[..(bytes.Length / 2)]);
        using var decoder = new PrefetchDecoder(threads: 2);

        for (var epoch = 0; epoch < 2; epoch++)
        {
            var batches = decoder.Read(set, [.. Enumerable.Range(0, 5)], batchSize: 2).Select(b => (b.Indices, b.Attempted)).ToList();

            Assert.Equal([0, 2, 4], batches.SelectMany(b => b.Indices));
            Assert.Equal([2, 2, 1], batches.Select(b => b.Attempted));
        }

        Assert.Equal(2, skipped.Count);
        Assert.Equal(skipped.Files, warned);
        Assert.Equal([paths[1], paths[3]], skipped.Files.Select(s => s.Path).Order(StringComparer.Ordinal));
        Assert.Contains("cannot read", skipped.Files.Single(s => s.Path == paths[1]).Reason, StringComparison.Ordinal);
        Assert.Contains("truncated JPEG", skipped.Files.Single(s => s.Path == paths[3]).Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Check_BadFilesBesideGoodOnes_LeavesOutEachWithItsOwnReasonWithoutDecoding()
    {
        TestData.CopyClassFolders(_temp.Path, 2);
        var cat = Path.Combine(_temp.Path, "cat");
        var noise = new byte[4096];
        new Random(1).NextBytes(noise);
        File.WriteAllBytes(Path.Combine(cat, "noise.jpg"), noise);
        var photo = File.ReadAllBytes(TestData.RealPhotos("cat", 1)[0]);
        File.WriteAllBytes(Path.Combine(cat, "truncated.jpg"), photo[..(photo.Length / 2)]);
        File.WriteAllBytes(Path.Combine(cat, "empty.jpg"), []);
        File.WriteAllText(Path.Combine(cat, "text.jpg"), "this is a text file, not a JPEG");
        File.CreateSymbolicLink(Path.Combine(cat, "dangling.jpg"), Path.Combine(_temp.Path, "gone.jpg"));
        var files = Directory.EnumerateFiles(_temp.Path, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal).Select(p => new LabeledFile(p, p.Contains("/dog/", StringComparison.Ordinal) ? 1 : 0)).ToList();
        var skipped = new SkipLog();

        var set = ImageLoader.Check(files, Width, Height, skipped, decodeThreads: 2);

        Assert.Equal(4, set.Count);
        Assert.Equal([0, 0, 1, 1], set.Labels);
        Assert.Same(skipped, set.Skipped);
        Assert.Equal(files.Select(f => f.Path).Where(p => skipped.Files.Any(s => s.Path == p)), skipped.Files.Select(s => s.Path));
        string Reason(string name) => skipped.Files.Single(s => Path.GetFileName(s.Path) == name).Reason;
        Assert.Contains("not an image or corrupt", Reason("noise.jpg"), StringComparison.Ordinal);
        Assert.Contains("truncated JPEG", Reason("truncated.jpg"), StringComparison.Ordinal);
        Assert.Contains("empty file", Reason("empty.jpg"), StringComparison.Ordinal);
        Assert.Contains("not an image or corrupt", Reason("text.jpg"), StringComparison.Ordinal);
        Assert.Contains("cannot read", Reason("dangling.jpg"), StringComparison.Ordinal);
    }

    private static ImageSet Checked(List<string> photos)
    {
        var set = ImageLoader.Check([.. photos.Select((p, i) => new LabeledFile(p, i % 2))], Width, Height, new SkipLog());
        Assert.Equal(photos.Count, set.Count);
        return set;
    }

    private static byte[] ResizeOfDecodedFile(string path)
    {
        Assert.True(ImageFile.TryRead(path, out var bgr, out var error), error);
        using (bgr)
        using (var resized = ImagePreprocessing.Resize(bgr, Width, Height))
        {
            Assert.True(resized.GetArray(out Vec3b[] expected));
            return [.. expected.SelectMany(v => new[] { v.Item0, v.Item1, v.Item2 })];
        }
    }
}
