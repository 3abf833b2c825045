using OpenCvSharp;

namespace DogsVsCats.Vision.Shared;

/// <summary>
/// The one resize shared by the trainer and the realtime app, so a model sees at inference exactly what it saw in
/// training. The rule is written into exported models; change it here and nowhere else.
/// </summary>
public static class ImagePreprocessing
{
    /// <summary>
    /// The largest centred region with the model's aspect ratio is cut out and resized to width x height, so shapes
    /// are never distorted. Measured on ../shared/data with the ImageNet ResNet-18: the head on cached features reached
    /// validation loss 0.030 / accuracy 98.8 % this way, against 0.050 / 97.5 % when the whole photo was stretched.
    /// </summary>
    public const string ResizeRule = "center-crop";

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

        using var region = new Mat(bgr, CropRegion(bgr.Width, bgr.Height, width, height));   // a view, no copy
        if (dst.Empty())
        {
            dst.Create(height, width, MatType.CV_8UC3);
        }

        // The same bytes as Cv2.Resize's INTER_AREA, faster, where it applies.
        if (!AreaResize.TryResize(region, dst))
        {
            Cv2.Resize(region, dst, new Size(width, height), 0, 0, InterpolationFlags.Area);
        }
    }

    /// <summary>The centred region of a source image that <see cref="Resize"/> keeps (what a live view can outline).</summary>
    public static Rect CropRegion(int sourceWidth, int sourceHeight, int width, int height)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(sourceWidth);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(sourceHeight);
        // Compare aspect ratios in integers: sourceWidth / sourceHeight against width / height.
        long wide = (long)sourceWidth * height, tall = (long)sourceHeight * width;
        int cropWidth = sourceWidth, cropHeight = sourceHeight;
        if (wide > tall)
        {
            cropWidth = (int)Math.Max(1, Math.Round((double)sourceHeight * width / height));
        }
        else if (tall > wide)
        {
            cropHeight = (int)Math.Max(1, Math.Round((double)sourceWidth * height / width));
        }

        return new Rect((sourceWidth - cropWidth) / 2, (sourceHeight - cropHeight) / 2, cropWidth, cropHeight);
    }
}
