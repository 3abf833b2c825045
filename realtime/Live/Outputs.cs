using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using OpenCvSharp;

namespace DogsVsCats.Vision.Realtime.Live;

/// <summary>The OpenCV window and its keys: h heat map, space pause, s snapshot, q or Esc quit.</summary>
public sealed class WindowComponent : IFrameComponent, IDisposable
{
    public const string Title = "DogsVsCats.Vision realtime (h heat map, space pause, s snapshot, q quit)";

    public void Update(FrameContext context)
    {
        Cv2.ImShow(Title, context.Display);
        switch (Cv2.WaitKey(1) & 0xFF)
        {
            case 'h':
                context.ShowHeatmap = !context.ShowHeatmap;
                break;
            case ' ':
                context.Paused = !context.Paused;
                break;
            case 's':
                context.SnapshotRequested = true;
                break;
            case 'q' or 27:
                context.QuitRequested = true;
                break;
            default:
                break;
        }
    }

    public void Dispose() => Cv2.DestroyAllWindows();
}

/// <summary>Writes the displayed frame to a new PNG on the s key or at frame --snapshot-at; never replaces a file.</summary>
public sealed class SnapshotComponent(string folder, int atFrame, ILogger logger) : IFrameComponent
{
    public void Update(FrameContext context)
    {
        if (!context.SnapshotRequested && context.Processed + 1 != atFrame)
        {
            return;
        }

        context.SnapshotRequested = false;
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, $"snapshot-{context.Frame.Index:D6}.png");
        for (var n = 2; File.Exists(path); n++)
        {
            path = Path.Combine(folder, $"snapshot-{context.Frame.Index:D6} ({n}).png");
        }

        Cv2.ImWrite(path, context.Display);
        logger.LogInformation("Snapshot: {Path}", path);
    }
}

/// <summary>Writes the annotated frames to a video file (mp4v), opened at the first frame's size.</summary>
public sealed class RecordComponent(string path, double fps, ILogger logger) : IFrameComponent, IDisposable
{
    private VideoWriter? writer;

    public void Update(FrameContext context)
    {
        if (context.Paused)
        {
            return;
        }

        if (writer is null)
        {
            // Checked at start too; checked again here because the file could have appeared since.
            if (File.Exists(path))
            {
                throw new IOException($"--record '{path}' already exists; it is never replaced.");
            }

            writer = new VideoWriter(path, FourCC.MP4V, fps, context.Display.Size());
            if (!writer.IsOpened())
            {
                throw new IOException($"OpenCV cannot write video '{path}' (mp4v at {fps:0.#} fps).");
            }

            logger.LogInformation("Recording to {Path} at {Fps:0.#} fps.", path, fps);
        }

        writer.Write(context.Display);
    }

    public void Dispose() => writer?.Dispose();
}

/// <summary>One JSON object per processed frame: the same prediction every other output shows, with its latency.</summary>
public sealed class JsonlComponent(string path) : IFrameComponent, IDisposable
{
    private readonly StreamWriter writer = new(path, append: true) { NewLine = "\n" };

    public void Update(FrameContext context)
    {
        if (context.Prediction is not { } p)
        {
            return;
        }

        writer.WriteLine(JsonSerializer.Serialize(new
        {
            frame = context.Frame.Index,
            label = context.Label,
            confidence = context.Confidence,
            probabilities = p.Labels.Select((label, i) => (label, i)).ToDictionary(x => x.label, x => context.Smoothed[x.i]),
            raw_label = p.Labels[p.TopIndex],
            latency_ms = context.LatencyMs,
            fps = context.Fps,
            dropped = context.Dropped,
            timings_ms = new { preprocess = p.Timings.PreprocessMs, inference = p.Timings.InferenceMs, postprocess = p.Timings.PostprocessMs },
        }));
        writer.Flush();
    }

    public void Dispose() => writer.Dispose();
}

/// <summary>Without a window, logs the current prediction once a second.</summary>
public sealed class LogComponent(ILogger logger) : IFrameComponent
{
    private double sinceLast = double.MaxValue;

    public void Update(FrameContext context)
    {
        sinceLast += context.DeltaTime;
        if (sinceLast < 1 || context.Prediction is not { } p)
        {
            return;
        }

        sinceLast = 0;
        logger.LogInformation(
            "frame {Frame}: {Label} {Confidence} | {Fps:0.0} fps, inference {Inference:0} ms, latency {Latency:0} ms, dropped {Dropped}",
            context.Frame.Index,
            context.Label,
            context.Confidence.ToString("0.00", CultureInfo.InvariantCulture),
            context.Fps,
            p.Timings.InferenceMs,
            context.LatencyMs,
            context.Dropped);
    }
}
