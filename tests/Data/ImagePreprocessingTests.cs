using DogsVsCats.Vision.Shared;
using OpenCvSharp;

namespace DogsVsCats.Vision.Tests.Data;

public sealed class ImagePreprocessingTests
{
    [Fact]
    public void Resize_AnyAspect_StretchesToExactSize()
    {
        using var src = new Mat(100, 300, MatType.CV_8UC3, new Scalar(1, 2, 3));

        using var dst = ImagePreprocessing.Resize(src, 64, 32);

        Assert.Equal(new Size(64, 32), dst.Size());
        Assert.Equal(MatType.CV_8UC3, dst.Type());
        Assert.Equal(new Vec3b(1, 2, 3), dst.At<Vec3b>(31, 63));
    }

    [Fact]
    public void Resize_Downscale_AveragesLikeInterArea()
    {
        // INTER_AREA averages a 2x2 block; INTER_LINEAR or NEAREST would not give exactly 127/128 here.
        using var src = new Mat(2, 2, MatType.CV_8UC3, Scalar.All(0));
        src.Set(0, 0, new Vec3b(255, 255, 255));
        src.Set(1, 1, new Vec3b(255, 255, 255));

        using var dst = ImagePreprocessing.Resize(src, 1, 1);

        Assert.InRange(dst.At<Vec3b>(0, 0).Item0, 127, 128);
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
