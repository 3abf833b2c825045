using DogsVsCats.Vision.Realtime.Inference;

namespace DogsVsCats.Vision.Realtime.Live;

/// <summary>
/// What classify + smooth made of one frame. It is made once and only read afterwards: drawing, the log, --jsonl and
/// --record take everything they show from here (nothing is fetched back from the classifier).
/// </summary>
/// <param name="Raw">The model's probabilities for this frame alone.</param>
/// <param name="Smoothed">The moving average over frames, which <paramref name="Label"/> comes from.</param>
/// <param name="Label">The smoothed top label, or 'uncertain' below --min-confidence.</param>
/// <param name="Cam">The class activation map of the raw top class, copied out of the classifier's batch buffer.</param>
/// <param name="LatencyMs">Milliseconds from capture to the smoothed label.</param>
internal sealed record FrameResult(Prediction Raw, Prediction Smoothed, string Label, ClassMap Cam, double LatencyMs)
{
    public float Confidence => Smoothed.Confidence;

    /// <summary>Milliseconds of each classifier stage for this frame.</summary>
    public StageTimings Timings => Raw.Timings;
}

/// <summary>A class activation map [<see cref="Height"/>, <see cref="Width"/>] of class <see cref="ClassIndex"/>.</summary>
internal sealed record ClassMap(float[] Values, int Height, int Width, int ClassIndex);

/// <summary>The loop's counters when a frame's pass starts.</summary>
/// <param name="Processed">Passes completed before this one.</param>
/// <param name="DeltaTime">Seconds since the previous pass started (a game loop's delta time).</param>
/// <param name="Fps">Frames per second the loop achieves (smoothed).</param>
/// <param name="Dropped">Frames the live channel dropped so far because the loop was busy.</param>
internal readonly record struct LoopStats(long Processed, double DeltaTime, double Fps, long Dropped);

/// <summary>
/// One pass of the frame loop as every output sees it: read-only, made by the loop. <see cref="Result"/> is null while
/// paused (nothing is classified); <see cref="Display"/> is the annotated image, one Mat reused for the whole run.
/// </summary>
internal sealed record FramePass(Frame Frame, ViewState View, LoopStats Stats, FrameResult? Result, OpenCvSharp.Mat Display);

/// <summary>One step after classification (the window, --record, --jsonl, the log, snapshots); outputs only read the pass.</summary>
internal interface IFrameOutput
{
    void Write(FramePass pass);

    /// <summary>The loop has ended (the source ended, the viewer quit, --duration passed or the app stops): no Write follows.</summary>
    void End()
    {
    }
}
