using System.Runtime.Intrinsics.X86;
using DogsVsCats.Vision.Shared;
using OpenCvSharp;

namespace DogsVsCats.Vision.Tests.Data;

/// <summary>The shared resize's fast INTER_AREA must give OpenCV's bytes exactly, or the models would see other pixels than in training.</summary>
[Trait("Category", "Fast")]
public sealed class AreaResizeTests
{
    [Theory]
    [InlineData(224, 224)]
    [InlineData(256, 256)]
    [InlineData(160, 160)]   // a shrink of 2 to 3 x: some columns' sources lie too far apart for a window, and are gathered
    [InlineData(299, 299)]
    [InlineData(224, 160)]
    public void RealPhotos_SameBytesAsOpenCv(int width, int height)
    {
        var photos = TestData.RealPhotos("cat", 60).Concat(TestData.RealPhotos("dog", 60)).ToList();
        var fast = 0;
        foreach (var path in photos)
        {
            using var photo = Cv2.ImRead(path, ImreadModes.Color);
            using var region = new Mat(photo, ImagePreprocessing.CropRegion(photo.Width, photo.Height, width, height));
            using var expected = new Mat();
            Cv2.Resize(region, expected, new Size(width, height), 0, 0, InterpolationFlags.Area);
            using var actual = new Mat(height, width, MatType.CV_8UC3, Scalar.All(7));
            if (!AreaResize.TryResize(region, actual))
            {
                continue;
            }

            fast++;
            AssertSameBytes(expected, actual, path);
        }

        // Most of the shared photos shrink by a fractional scale of 1 to 3: the fast path must have run on them.
        Assert.True(!Avx2.IsSupported || fast > photos.Count / 2, $"{fast} of {photos.Count} photos took the fast path");
    }

    [Theory]
    [InlineData(37, 29, 13, 11)]      // a width whose values (13 x 3) are not a multiple of 8: the scalar tail
    [InlineData(641, 479, 224, 224)]  // a webcam frame, shrunk about 2.1-2.9 x
    [InlineData(1000, 300, 333, 200)]
    [InlineData(225, 225, 224, 224)]  // barely smaller
    public void RandomPixels_SameBytesAsOpenCv(int sourceWidth, int sourceHeight, int width, int height)
    {
        using var src = new Mat(sourceHeight, sourceWidth, MatType.CV_8UC3);
        Cv2.Randu(src, Scalar.All(0), Scalar.All(256));
        using var expected = new Mat();
        Cv2.Resize(src, expected, new Size(width, height), 0, 0, InterpolationFlags.Area);
        using var actual = new Mat(height, width, MatType.CV_8UC3, Scalar.All(7));

        Assert.Equal(Avx2.IsSupported, AreaResize.TryResize(src, actual));
        if (Avx2.IsSupported)
        {
            AssertSameBytes(expected, actual, $"{sourceWidth}x{sourceHeight} -> {width}x{height}");
        }
    }

    [Theory]
    [InlineData(448, 448, 224, 224)]   // a whole-number scale: OpenCV averages blocks with other code
    [InlineData(200, 300, 224, 224)]   // enlarges one axis
    [InlineData(1000, 1000, 224, 224)] // more than 4 source pixels across per destination pixel
    public void OtherScales_LeftToOpenCv_AndTheSharedResizeStillMatchesIt(int sourceWidth, int sourceHeight, int width, int height)
    {
        using var src = new Mat(sourceHeight, sourceWidth, MatType.CV_8UC3);
        Cv2.Randu(src, Scalar.All(0), Scalar.All(256));
        using var untouched = new Mat(height, width, MatType.CV_8UC3, Scalar.All(7));

        Assert.False(AreaResize.TryResize(src, untouched));
        using (var sevens = new Mat(height, width, MatType.CV_8UC3, Scalar.All(7)))
        {
            AssertSameBytes(sevens, untouched, "the destination it declined");
        }

        // ImagePreprocessing crops to the model's aspect first; on a square source that is the whole image.
        using var expected = new Mat();
        using var region = new Mat(src, ImagePreprocessing.CropRegion(sourceWidth, sourceHeight, width, height));
        Cv2.Resize(region, expected, new Size(width, height), 0, 0, InterpolationFlags.Area);
        using var actual = ImagePreprocessing.Resize(src, width, height);
        AssertSameBytes(expected, actual, "ImagePreprocessing.Resize");
    }

    private static void AssertSameBytes(Mat expected, Mat actual, string what)
    {
        using var difference = new Mat();
        Cv2.Absdiff(expected, actual, difference);
        using var values = difference.Reshape(1);
        var differ = Cv2.CountNonZero(values);
        Assert.True(differ == 0, $"{what}: {differ} values differ from what was expected");
    }
}
