using DogsVsCats.Vision.Shared;
using OpenCvSharp;

namespace DogsVsCats.Vision.Realtime.Live;

/// <summary>
/// Draws the overlay into <see cref="Display"/>: the region the model sees, label, confidence bar, FPS, inference time,
/// dropped frames, and (h key) the class activation map of the frame's top class upsampled onto that region.
/// </summary>
internal sealed class FrameRenderer(int inputWidth, int inputHeight) : IDisposable
{
    /// <summary>The marker drawn over the frozen frame while paused.</summary>
    public const string PausedText = "paused (space resumes)";

    private static readonly Scalar White = Scalar.All(255);
    private static readonly Scalar Green = new(80, 200, 80);
    private readonly CamOverlay overlay = new();
    private bool frozen;

    /// <summary>The annotated image every output shows (one Mat for the whole run).</summary>
    public Mat Display { get; } = new();

    /// <summary>Draws <paramref name="pass"/> into its display (<see cref="Display"/>).</summary>
    public void Render(FramePass pass)
    {
        var display = pass.Display;
        // Paused: the last annotated frame stays on screen with a marker drawn over it once; nothing else is redrawn.
        if (pass.View.Paused && !display.Empty())
        {
            if (!frozen)
            {
                DrawPaused(display);
                frozen = true;
            }

            return;
        }

        frozen = false;
        pass.Frame.Image.CopyTo(display);
        var region = ImagePreprocessing.CropRegion(display.Width, display.Height, inputWidth, inputHeight);
        var result = pass.Result;
        if (pass.View.ShowHeatmap && result is not null)
        {
            DrawHeatmap(display, region, result.Cam);
        }

        Cv2.Rectangle(display, region, Green, 1);
        var scale = Math.Max(0.5, display.Width / 1280.0);
        var line = (int)(28 * scale);
        var (label, confidence) = result is null ? ("", 0f) : (result.Label, result.Confidence);
        Cv2.PutText(display, $"{label} {confidence:0.00}", new Point(10, line), HersheyFonts.HersheySimplex, scale, White, 2);
        var barWidth = (int)(200 * scale);
        Cv2.Rectangle(display, new Rect(10, line + 8, barWidth, (int)(10 * scale)), White, 1);
        Cv2.Rectangle(display, new Rect(10, line + 8, Math.Max(1, (int)(barWidth * confidence)), (int)(10 * scale)), Green, -1);
        var inference = result?.Timings.InferenceMs ?? 0;
        Cv2.PutText(display, $"{pass.Stats.Fps:0.0} fps  inference {inference:0} ms  dropped {pass.Stats.Dropped}", new Point(10, (line * 2) + 16), HersheyFonts.HersheySimplex, scale * 0.6, White, 1);
    }

    public void Dispose()
    {
        Display.Dispose();
        overlay.Dispose();
    }

    private static void DrawPaused(Mat display)
    {
        var scale = Math.Max(0.5, display.Width / 1280.0);
        var size = Cv2.GetTextSize(PausedText, HersheyFonts.HersheySimplex, scale, 2, out var baseline);
        var origin = new Point(10, display.Height - 10 - baseline);
        Cv2.Rectangle(display, new Rect(origin.X - 4, origin.Y - size.Height - 4, size.Width + 8, size.Height + baseline + 8), Scalar.All(0), -1);
        Cv2.PutText(display, PausedText, origin, HersheyFonts.HersheySimplex, scale, White, 2);
    }

    private void DrawHeatmap(Mat display, Rect region, ClassMap map)
    {
        using var view = new Mat(display, region);   // a view into the display, blended in place
        overlay.Draw(view, map.Values, map.Height, map.Width);
    }
}
