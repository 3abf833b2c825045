using DogsVsCats.Vision.Shared;
using OpenCvSharp;

namespace DogsVsCats.Vision.Tests.Data;

[Trait("Category", "Fast")]
public sealed class ImageFileTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void TryRead_FiftyRealPhotos_AllDecodeAsBgr8UC3()
    {
        // The full 3,000-photo check is too slow for the suite; it was run once (see the data-report notes).
        foreach (var path in TestData.RealPhotos("cat", 25).Concat(TestData.RealPhotos("dog", 25)))
        {
            Assert.True(ImageFile.TryRead(path, out var bgr, out var error), $"{path}: {error}");
            using (bgr)
            {
                Assert.Equal(MatType.CV_8UC3, bgr.Type());
                Assert.True(bgr.Width > 0 && bgr.Height > 0);
            }
        }
    }

    [Theory]
    [InlineData("a.jpg", true)]
    [InlineData("a.JPEG", true)]
    [InlineData("a.Png", true)]
    [InlineData("a.bmp", true)]
    [InlineData("a.webp", true)]
    [InlineData("a.txt", false)]
    [InlineData(".DS_Store", false)]
    [InlineData("jpg", false)]
    public void IsImagePath_Extension_MatchesCaseInsensitively(string path, bool expected) =>
        Assert.Equal(expected, ImageFile.IsImagePath(path));

    [Fact]
    public void TryRead_GrayPng_ReturnsThreeChannelBgr()
    {
        using var gray = new Mat(10, 20, MatType.CV_8UC1, Scalar.All(77));
        var path = Path.Combine(_temp.Path, "gray.png");
        File.WriteAllBytes(path, gray.ImEncode(".png"));

        Assert.True(ImageFile.TryRead(path, out var bgr, out var error), error);
        using (bgr)
        {
            Assert.Equal(MatType.CV_8UC3, bgr.Type());
            Assert.Equal(new Vec3b(77, 77, 77), bgr.At<Vec3b>(5, 5));
        }
    }

    [Fact]
    public void TryRead_PngWithAlpha_ReturnsThreeChannelBgr()
    {
        using var bgra = new Mat(10, 20, MatType.CV_8UC4, new Scalar(10, 20, 30, 128));
        var path = Path.Combine(_temp.Path, "alpha.png");
        File.WriteAllBytes(path, bgra.ImEncode(".png"));

        Assert.True(ImageFile.TryRead(path, out var bgr, out var error), error);
        using (bgr)
        {
            Assert.Equal(MatType.CV_8UC3, bgr.Type());
            Assert.Equal(new Vec3b(10, 20, 30), bgr.At<Vec3b>(0, 0));
        }
    }

    [Fact]
    public void TryRead_UnicodePath_Reads()
    {
        var path = Path.Combine(_temp.Path, "chat é 猫.jpg");
        File.Copy(TestData.RealPhotos("cat", 1)[0], path);

        Assert.True(ImageFile.TryRead(path, out var bgr, out var error), error);
        bgr.Dispose();
    }

    [Fact]
    public void TryRead_MissingFile_ReturnsFalseWithReason()
    {
#pragma warning disable CA2000 // a failed read hands out no Mat (asserted null below)
        Assert.False(ImageFile.TryRead(Path.Combine(_temp.Path, "missing.jpg"), out var bgr, out var error));
#pragma warning restore CA2000
        Assert.Null(bgr);
        Assert.Contains("cannot read", error, StringComparison.Ordinal);
    }

    [Fact]
    public void TryRead_JpegWithPaddingAfterEndMarker_Reads()
    {
        // Some cameras append bytes after FF D9; the truncation rule must not reject those files.
        var path = Path.Combine(_temp.Path, "padded.jpg");
        File.WriteAllBytes(path, [.. File.ReadAllBytes(TestData.RealPhotos("dog", 1)[0]), .. new byte[100]]);

        Assert.True(ImageFile.TryRead(path, out var bgr, out var error), error);
        bgr.Dispose();
    }
}
