namespace DogsVsCats.Vision.Realtime.Live;

/// <summary>The live loop's settings (camera, video, stream); bound by the app's option binder.</summary>
internal sealed class LiveOptions
{
    /// <summary>Camera index, device path, video file, rtsp/http url or image sequence.</summary>
    public string Source { get; set; } = "0";

    /// <summary>Also write one JSON object per classified frame to this file.</summary>
    public string? Jsonl { get; set; }

    /// <summary>No window; predictions are logged.</summary>
    public bool NoWindow { get; set; }

    /// <summary>Start with the class activation heat map shown (the h key toggles it).</summary>
    public bool Heatmap { get; set; }

    /// <summary>Write the annotated video here (an existing file is never replaced).</summary>
    public string? Record { get; set; }

    /// <summary>Play a video file at its own frame rate, as a camera would deliver it (frames drop when inference lags).</summary>
    public bool RealtimePacing { get; set; }

    /// <summary>Restart a video file at its end instead of exiting.</summary>
    public bool Loop { get; set; }

    /// <summary>Weight of the newest frame in the moving average of probabilities (1 = no smoothing).</summary>
    public double Smoothing { get; set; } = 0.3;

    /// <summary>Frames per second the loop aims for when the source has no rate of its own.</summary>
    public double TargetFps { get; set; } = 30;

    /// <summary>Stop after this many seconds (0 = until the source ends or q is pressed).</summary>
    public double Duration { get; set; }

    /// <summary>Where the s key (and --snapshot-at) writes the displayed frame.</summary>
    public string SnapshotDir { get; set; } = "snapshots";

    /// <summary>Write a snapshot automatically after this many displayed frames (0 = only on the s key).</summary>
    public int SnapshotAt { get; set; }

    public void Validate(ICollection<string> errors)
    {
        if (Smoothing is <= 0 or > 1)
        {
            errors.Add($"--smoothing {Smoothing} must be in (0, 1]: the newest frame's weight (1 = no smoothing).");
        }

        if (TargetFps is <= 0 or > 1000)
        {
            errors.Add($"--target-fps {TargetFps} must be in (0, 1000].");
        }

        if (Duration < 0 || SnapshotAt < 0)
        {
            errors.Add("--duration and --snapshot-at must be 0 or more.");
        }

        if (!string.IsNullOrWhiteSpace(Record) && File.Exists(Record))
        {
            errors.Add($"--record '{Record}' already exists; choose another name (an existing file is never replaced).");
        }
    }
}
