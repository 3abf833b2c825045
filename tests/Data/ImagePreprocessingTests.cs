using DogsVsCats.Vision.Shared;
using OpenCvSharp;

namespace DogsVsCats.Vision.Tests.Data;

[Trait("Category", "Fast")]
public sealed class ImagePreprocessingTests
{
    [Fact]
    public void Resize_AnyAspect_GivesExactSize()
    {
        using var src = new Mat(100, 300, MatType.CV_8UC3, new Scalar(1, 2, 3));

        using var dst = ImagePreprocessing.Resize(src, 64, 32);

        Assert.Equal(new Size(64, 32), dst.Size());
        Assert.Equal(MatType.CV_8UC3, dst.Type());
        Assert.Equal(new Vec3b(1, 2, 3), dst.At<Vec3b>(31, 63));
    }

    [Fact]
    public void Resize_WiderThanModel_KeepsOnlyTheCentre()
    {
        // Three vertical bands, blue | green | red, in a 3:1 image: a square crop keeps exactly the green band.
        using var src = new Mat(100, 300, MatType.CV_8UC3, new Scalar(255, 0, 0));
        using (var middle = src[new Rect(100, 0, 100, 100)])
        using (var right = src[new Rect(200, 0, 100, 100)])
        {
            middle.SetTo(new Scalar(0, 255, 0));
            right.SetTo(new Scalar(0, 0, 255));
        }

        using var dst = ImagePreprocessing.Resize(src, 50, 50);

        using var green = dst.ExtractChannel(1);
        Cv2.MinMaxLoc(green, out double minGreen, out _);
        Assert.Equal(255, minGreen);
        Assert.Equal(new Rect(100, 0, 100, 100), ImagePreprocessing.CropRegion(300, 100, 50, 50));
    }

    [Theory]
    [InlineData(500, 375, 224, 224, 62, 0, 375, 375)]
    [InlineData(375, 500, 224, 224, 0, 62, 375, 375)]
    [InlineData(640, 480, 320, 240, 0, 0, 640, 480)]
    [InlineData(299, 299, 224, 224, 0, 0, 299, 299)]
    public void CropRegion_Aspect_IsCentredAndAsLargeAsFits(int sw, int sh, int w, int h, int x, int y, int cw, int ch)
    {
        Assert.Equal(new Rect(x, y, cw, ch), ImagePreprocessing.CropRegion(sw, sh, w, h));
    }

    [Fact]
    public void Resize_Downscale_AveragesLikeInterArea()
    {
        // A 3x downscale: INTER_AREA averages the whole 3x3 block (8 x 90 + 0) / 9 = 80. The output pixel's centre
        // falls exactly on the source centre, so INTER_LINEAR and INTER_CUBIC give that pixel (0), NEAREST a corner (90).
        using var src = new Mat(3, 3, MatType.CV_8UC3, Scalar.All(90));
        src.Set(1, 1, new Vec3b(0, 0, 0));

        using var dst = ImagePreprocessing.Resize(src, 1, 1);

        Assert.Equal(new Vec3b(80, 80, 80), dst.At<Vec3b>(0, 0));
    }

    [Fact]
    public void ResizeInto_RightSizedBuffer_ReusesItsMemory()
    {
        using var src = new Mat(50, 80, MatType.CV_8UC3, Scalar.All(9));
        using var dst = new Mat(16, 16, MatType.CV_8UC3);
        var before = dst.Data;

        ImagePreprocessing.ResizeInto(src, dst, 16, 16);

        Assert.Equal(before, dst.Data);
        Assert.Equal(new Vec3b(9, 9, 9), dst.At<Vec3b>(8, 8));
    }

    [Fact]
    public void ResizeInto_WrongSizedBuffer_Throws()
    {
        using var src = new Mat(50, 80, MatType.CV_8UC3, Scalar.All(9));
        using var dst = new Mat(10, 16, MatType.CV_8UC3);

        Assert.Throws<ArgumentException>(() => ImagePreprocessing.ResizeInto(src, dst, 16, 16));
    }

    [Fact]
    public void Resize_GrayInput_Throws()
    {
        using var gray = new Mat(10, 10, MatType.CV_8UC1);

        Assert.Throws<ArgumentException>(() => ImagePreprocessing.Resize(gray, 4, 4));
    }
}
