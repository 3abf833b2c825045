using OpenCvSharp;

namespace DogsVsCats.Vision.Shared;

/// <summary>
/// The one resize shared by the trainer and the realtime app, so a model sees at inference exactly what it saw in
/// training. The rule is written into exported models; change it here and nowhere else.
/// </summary>
public static class ImagePreprocessing
{
    /// <summary>The whole image is resized to width x height; aspect ratio is not kept.</summary>
    public const string ResizeRule = "stretch";

    /// <summary>OpenCV interpolation used by <see cref="Resize"/> (cv::INTER_AREA).</summary>
    public const string Interpolation = "INTER_AREA";

    /// <summary>Returns a new 8UC3 BGR Mat of width x height; the caller disposes it.</summary>
    public static Mat Resize(Mat bgr, int width, int height)
    {
        var dst = new Mat();
        try
        {
            ResizeInto(bgr, dst, width, height);
            return dst;
        }
        catch
        {
            dst.Dispose();
            throw;
        }
    }

    /// <summary>Resizes into <paramref name="dst"/>, which is reused when it is already width x height 8UC3 (realtime loop).</summary>
    public static void ResizeInto(Mat bgr, Mat dst, int width, int height)
    {
        ArgumentNullException.ThrowIfNull(bgr);
        ArgumentNullException.ThrowIfNull(dst);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        if (bgr.Empty() || bgr.Type() != MatType.CV_8UC3)
        {
            throw new ArgumentException($"Expected a non-empty 8UC3 BGR image, got {(bgr.Empty() ? "an empty Mat" : bgr.Type().ToString())}.", nameof(bgr));
        }

        if (!dst.Empty() && (dst.Width != width || dst.Height != height || dst.Type() != MatType.CV_8UC3))
        {
            throw new ArgumentException($"The destination must be empty or {width}x{height} 8UC3, got {dst.Width}x{dst.Height} {dst.Type()}.", nameof(dst));
        }

        Cv2.Resize(bgr, dst, new Size(width, height), 0, 0, InterpolationFlags.Area);
    }
}
