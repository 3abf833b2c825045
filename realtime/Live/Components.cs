using DogsVsCats.Vision.Realtime.Inference;
using DogsVsCats.Vision.Shared;
using OpenCvSharp;

namespace DogsVsCats.Vision.Realtime.Live;

/// <summary>Resize + inference through the shared classifier (both stages are timed separately in the prediction).</summary>
public sealed class ClassifyComponent(Classifier classifier) : IFrameComponent
{
    private readonly Mat[] batch = new Mat[1];

    public void Update(FrameContext context)
    {
        if (context.Paused)
        {
            context.Prediction = null;
            return;
        }

        batch[0] = context.Frame.Image;
        context.Prediction = classifier.Classify(batch)[0];
        batch[0] = null!;
    }
}

/// <summary>
/// Averages probabilities over frames (exponential moving average), so the label does not flicker between frames;
/// below --min-confidence it reads 'uncertain'. Also stamps the capture-to-label latency.
/// </summary>
public sealed class SmoothComponent(double weight, double minConfidence) : IFrameComponent
{
    private bool first = true;

    public void Update(FrameContext context)
    {
        if (context.Prediction is not { } prediction)
        {
            return;
        }

        var smoothed = context.Smoothed;
        for (var i = 0; i < smoothed.Length; i++)
        {
            smoothed[i] = first ? prediction.Probabilities[i] : (float)((weight * prediction.Probabilities[i]) + ((1 - weight) * smoothed[i]));
        }

        first = false;
        var top = 0;
        for (var i = 1; i < smoothed.Length; i++)
        {
            top = smoothed[i] > smoothed[top] ? i : top;
        }

        context.Confidence = smoothed[top];
        context.Label = smoothed[top] >= minConfidence ? prediction.Labels[top] : Prediction.Uncertain;
        context.LatencyMs = System.Diagnostics.Stopwatch.GetElapsedTime(context.Frame.CapturedAt).TotalMilliseconds;
    }
}

/// <summary>
/// Draws the overlay into <see cref="FrameContext.Display"/>: the region the model sees, label, confidence bar, FPS,
/// inference time, dropped frames, and (h key) the class activation map of the label upsampled onto that region.
/// </summary>
public sealed class DrawComponent(Classifier classifier) : IFrameComponent, IDisposable
{
    /// <summary>The marker drawn over the frozen frame while paused.</summary>
    public const string PausedText = "paused (space resumes)";

    private static readonly Scalar White = Scalar.All(255);
    private static readonly Scalar Green = new(80, 200, 80);
    private readonly Mat cam = new();
    private readonly Mat cam8 = new();
    private readonly Mat heat = new();
    private readonly Mat heatColor = new();
    private float[] camValues = [];
    private bool frozen;

    public void Update(FrameContext context)
    {
        // Paused: the last annotated frame stays on screen with a marker drawn over it once; nothing else is redrawn.
        if (context.Paused && !context.Display.Empty())
        {
            if (!frozen)
            {
                DrawPaused(context.Display);
                frozen = true;
            }

            return;
        }

        frozen = false;
        var display = context.Display;
        context.Frame.Image.CopyTo(display);
        var region = ImagePreprocessing.CropRegion(display.Width, display.Height, classifier.Description.InputWidth, classifier.Description.InputHeight);
        if (context.ShowHeatmap && context.Prediction is not null)
        {
            DrawHeatmap(display, region, context.Prediction.TopIndex);
        }

        Cv2.Rectangle(display, region, Green, 1);
        var scale = Math.Max(0.5, display.Width / 1280.0);
        var line = (int)(28 * scale);
        Cv2.PutText(display, $"{context.Label} {context.Confidence:0.00}", new Point(10, line), HersheyFonts.HersheySimplex, scale, White, 2);
        var barWidth = (int)(200 * scale);
        Cv2.Rectangle(display, new Rect(10, line + 8, barWidth, (int)(10 * scale)), White, 1);
        Cv2.Rectangle(display, new Rect(10, line + 8, Math.Max(1, (int)(barWidth * context.Confidence)), (int)(10 * scale)), Green, -1);
        var inference = context.Prediction?.Timings.InferenceMs ?? 0;
        Cv2.PutText(display, $"{context.Fps:0.0} fps  inference {inference:0} ms  dropped {context.Dropped}", new Point(10, (line * 2) + 16), HersheyFonts.HersheySimplex, scale * 0.6, White, 1);
    }

    public void Dispose()
    {
        foreach (var mat in new[] { cam, cam8, heat, heatColor })
        {
            mat.Dispose();
        }
    }

    private static void DrawPaused(Mat display)
    {
        var scale = Math.Max(0.5, display.Width / 1280.0);
        var size = Cv2.GetTextSize(PausedText, HersheyFonts.HersheySimplex, scale, 2, out var baseline);
        var origin = new Point(10, display.Height - 10 - baseline);
        Cv2.Rectangle(display, new Rect(origin.X - 4, origin.Y - size.Height - 4, size.Width + 8, size.Height + baseline + 8), Scalar.All(0), -1);
        Cv2.PutText(display, PausedText, origin, HersheyFonts.HersheySimplex, scale, White, 2);
    }

    private void DrawHeatmap(Mat display, Rect region, int classIndex)
    {
        var values = classifier.Cam(0, classIndex, out var height, out var width);   // [h, w], e.g. 7 x 7
        if (camValues.Length != values.Length)
        {
            camValues = new float[values.Length];
            cam.Create(height, width, MatType.CV_32FC1);
        }

        values.CopyTo(camValues);
        cam.SetArray(camValues);
        Cv2.Normalize(cam, cam8, 0, 255, NormTypes.MinMax, (int)MatType.CV_8UC1);
        Cv2.Resize(cam8, heat, region.Size, 0, 0, InterpolationFlags.Cubic);
        Cv2.ApplyColorMap(heat, heatColor, ColormapTypes.Jet);
        using var view = new Mat(display, region);   // a view into the display, blended in place
        Cv2.AddWeighted(view, 0.55, heatColor, 0.45, 0, view);
    }
}
