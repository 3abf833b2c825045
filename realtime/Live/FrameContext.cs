using DogsVsCats.Vision.Realtime.Inference;
using OpenCvSharp;

namespace DogsVsCats.Vision.Realtime.Live;

/// <summary>
/// What one pass of the frame loop shares between components: the frame, its timing, the prediction and what the
/// viewer asked for. One instance lives for the whole run and is updated in place, so a frame allocates no state.
/// </summary>
public sealed class FrameContext(double targetFps, int classes) : IDisposable
{
    /// <summary>The frame being processed (owned by the loop, disposed after the pass).</summary>
    public Frame Frame { get; set; } = null!;

    /// <summary>Seconds since the previous frame's pass started (a game loop's delta time).</summary>
    public double DeltaTime { get; set; }

    /// <summary>The loop's frame cap.</summary>
    public double TargetFps { get; } = targetFps;

    /// <summary>This frame's raw prediction; null while paused.</summary>
    public Prediction? Prediction { get; set; }

    /// <summary>Probabilities averaged over time (exponential moving average), in label order.</summary>
    public float[] Smoothed { get; } = new float[classes];

    /// <summary>The smoothed label, or 'uncertain' below --min-confidence.</summary>
    public string Label { get; set; } = Prediction.Uncertain;

    public float Confidence { get; set; }

    /// <summary>Milliseconds from capture to the smoothed label of this frame.</summary>
    public double LatencyMs { get; set; }

    /// <summary>Frames per second the loop achieves (smoothed).</summary>
    public double Fps { get; set; }

    /// <summary>Frames the live channel dropped so far because the loop was busy.</summary>
    public long Dropped { get; set; }

    /// <summary>Passes completed before this one.</summary>
    public long Processed { get; set; }

    /// <summary>The annotated image every output shows (reused).</summary>
    public Mat Display { get; } = new();

    public bool Paused { get; set; }

    public bool ShowHeatmap { get; set; }

    public bool SnapshotRequested { get; set; }

    public bool QuitRequested { get; set; }

    public void Dispose() => Display.Dispose();
}

/// <summary>
/// One step of the frame loop (classify, smooth, draw, an output...). The loop calls every component in order for
/// every frame, so adding a behaviour is adding one class.
/// </summary>
public interface IFrameComponent
{
    void Update(FrameContext context);
}
