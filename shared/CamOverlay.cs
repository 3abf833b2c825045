using OpenCvSharp;

namespace DogsVsCats.Vision.Shared;

/// <summary>
/// Draws a class activation map [h, w] as a heat map over the region of an image the model saw: the map is stretched
/// to 0..255 (min to max), upsampled with cubic interpolation, coloured with the Jet map and blended in place. One
/// drawing for every program that shows a CAM (the realtime window, the trainer's gallery of mistakes). Its scratch
/// Mats are reused from call to call, so a live loop allocates nothing per frame.
/// </summary>
public sealed class CamOverlay : IDisposable
{
    private const double ImageWeight = 0.55;
    private readonly Mat cam = new();
    private readonly Mat cam8 = new();
    private readonly Mat heat = new();
    private readonly Mat heatColor = new();

    /// <summary>Blends <paramref name="values"/> [<paramref name="height"/>, <paramref name="width"/>] into <paramref name="view"/> (8UC3 BGR).</summary>
    public void Draw(Mat view, float[] values, int height, int width)
    {
        ArgumentNullException.ThrowIfNull(view);
        ArgumentNullException.ThrowIfNull(values);
        if (values.Length != height * width)
        {
            throw new ArgumentException($"A {height}x{width} map needs {height * width} values, got {values.Length}.", nameof(values));
        }

        if (cam.Rows != height || cam.Cols != width)
        {
            cam.Create(height, width, MatType.CV_32FC1);
        }

        cam.SetArray(values);
        Cv2.Normalize(cam, cam8, 0, 255, NormTypes.MinMax, (int)MatType.CV_8UC1);
        Cv2.Resize(cam8, heat, view.Size(), 0, 0, InterpolationFlags.Cubic);
        Cv2.ApplyColorMap(heat, heatColor, ColormapTypes.Jet);
        Cv2.AddWeighted(view, ImageWeight, heatColor, 1 - ImageWeight, 0, view);
    }

    public void Dispose()
    {
        foreach (var mat in new[] { cam, cam8, heat, heatColor })
        {
            mat.Dispose();
        }
    }
}
