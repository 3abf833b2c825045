using System.Globalization;
using DogsVsCats.Vision.Realtime.Inference;
using DogsVsCats.Vision.Shared;
using Microsoft.Extensions.Logging;
using OpenCvSharp;

namespace DogsVsCats.Vision.Realtime.Live;

/// <summary>
/// The OpenCV window: shows the display and turns its keys into commands for the next pass (h heat map, space pause,
/// s snapshot, q or Esc quit).
/// </summary>
internal sealed class WindowOutput(LiveInput input) : IFrameOutput, IDisposable
{
    public const string Title = "DogsVsCats.Vision realtime (h heat map, space pause, s snapshot, q quit)";

    public void Write(FramePass pass)
    {
        Cv2.ImShow(Title, pass.Display);
        LiveCommand? command = (Cv2.WaitKey(1) & 0xFF) switch
        {
            'h' => LiveCommand.ToggleHeatmap,
            ' ' => LiveCommand.TogglePause,
            's' => LiveCommand.Snapshot,
            'q' or 27 => LiveCommand.Quit,
            _ => null,
        };
        if (command is { } pressed)
        {
            input.Post(pressed);
        }
    }

    public void Dispose() => Cv2.DestroyAllWindows();
}

/// <summary>Writes the displayed frame to a new PNG on the s key or at frame --snapshot-at; never replaces a file.</summary>
internal sealed class SnapshotOutput(string folder, int atFrame, ILogger logger) : IFrameOutput
{
    public void Write(FramePass pass)
    {
        if (!pass.View.Snapshot && pass.Stats.Processed + 1 != atFrame)
        {
            return;
        }

        Directory.CreateDirectory(folder);
        var path = FreePath.ForFile(Path.Combine(folder, $"snapshot-{pass.Frame.Index:D6}.png"));

        Cv2.ImWrite(path, pass.Display);
        logger.LogInformation("Snapshot: {Path}", path);
    }
}

/// <summary>
/// Writes the annotated frames to a video file (mp4v), opened at the first frame's size and its source's frame rate
/// (<paramref name="fallbackFps"/> when the source reports none); nothing while paused.
/// </summary>
internal sealed class RecordOutput(string path, double fallbackFps, ILogger logger) : IFrameOutput, IDisposable
{
    private VideoWriter? writer;

    public void Write(FramePass pass)
    {
        if (pass.View.Paused)
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

            var fps = pass.Frame.SourceFps > 0 ? pass.Frame.SourceFps : fallbackFps;
            writer = new VideoWriter(path, FourCC.MP4V, fps, pass.Display.Size());
            if (!writer.IsOpened())
            {
                throw new IOException($"OpenCV cannot write video '{path}' (mp4v at {fps:0.#} fps).");
            }

            logger.LogInformation("Recording to {Path} at {Fps:0.#} fps.", path, fps);
        }

        writer.Write(pass.Display);
    }

    public void Dispose() => writer?.Dispose();
}

/// <summary>One JSON line per classified frame (<see cref="PredictionLine"/>, the shape folder mode writes too).</summary>
internal sealed class JsonlOutput(string path) : IFrameOutput, IDisposable
{
    private readonly PredictionJsonl writer = new(path);

    public void Write(FramePass pass)
    {
        if (pass.Result is not { } result)
        {
            return;
        }

        writer.Write([PredictionLine.Of(result.Label, result.Raw, result.Smoothed) with
        {
            Frame = pass.Frame.Index,
            LatencyMs = result.LatencyMs,
            Fps = pass.Stats.Fps,
            Dropped = pass.Stats.Dropped,
        }]);
    }

    public void Dispose() => writer.Dispose();
}

/// <summary>Without a window, logs the current prediction once a second.</summary>
internal sealed class LogOutput(ILogger logger) : IFrameOutput
{
    private double sinceLast = double.MaxValue;

    public void Write(FramePass pass)
    {
        sinceLast += pass.Stats.DeltaTime;
        if (sinceLast < 1 || pass.Result is not { } result)
        {
            return;
        }

        sinceLast = 0;
        logger.LogInformation(
            "frame {Frame}: {Label} {Confidence} | {Fps:0.0} fps, inference {Inference:0} ms, latency {Latency:0} ms, dropped {Dropped}",
            pass.Frame.Index,
            result.Label,
            result.Confidence.ToString("0.00", CultureInfo.InvariantCulture),
            pass.Stats.Fps,
            result.Timings.InferenceMs,
            result.LatencyMs,
            pass.Stats.Dropped);
    }
}
