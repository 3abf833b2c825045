using DogsVsCats.Vision.Realtime.Inference;
using DogsVsCats.Vision.Realtime.Labelling;
using Microsoft.Extensions.Configuration;

namespace DogsVsCats.Vision.Realtime;

/// <summary>
/// Every setting of the realtime app, bound from configuration section <see cref="Section"/>: appsettings.json, then
/// environment variables (DOGSVSCATS_REALTIME__MODEL, ...), then the command line, each overriding the one before.
/// Defaults live here only; <c>realtime --help</c> prints them from a fresh instance.
/// </summary>
public sealed class RealtimeOptions
{
    public const string Section = "Realtime";

    /// <summary>The exported model.onnx (from 'trainer train' or 'trainer export').</summary>
    public string Model { get; set; } = "";

    /// <summary>Camera index, device path, video file, rtsp/http url, folder or image.</summary>
    public string Source { get; set; } = "0";

    /// <summary>auto, cpu or cuda.</summary>
    public InferenceDevice Device { get; set; } = InferenceDevice.Auto;

    /// <summary>ONNX Runtime intra-op threads; 0 lets ONNX Runtime use every core.</summary>
    public int Threads { get; set; }

    /// <summary>Below this (smoothed) probability the label is 'uncertain'.</summary>
    public double MinConfidence { get; set; } = 0.6;

    /// <summary>Folder mode: images per inference.</summary>
    public int Batch { get; set; } = 16;

    /// <summary>Folder mode: the CSV of results; relative paths are under --out when given, else the current folder.</summary>
    public string Csv { get; set; } = "labels.csv";

    /// <summary>Folder mode: also write one JSON object per image to this file.</summary>
    public string? Jsonl { get; set; }

    /// <summary>Folder mode: none, copy or move each photo into Out/&lt;label&gt;/ or Out/uncertain/.</summary>
    public SortMode Sort { get; set; } = SortMode.None;

    /// <summary>Folder mode: the sorted folder (required with --sort copy|move).</summary>
    public string? Out { get; set; }

    /// <summary>Folder mode: report what would happen; write, copy and move nothing.</summary>
    public bool DryRun { get; set; }

    /// <summary>Live mode: no window; predictions are logged.</summary>
    public bool NoWindow { get; set; }

    /// <summary>Live mode: start with the class activation heat map shown (the h key toggles it).</summary>
    public bool Heatmap { get; set; }

    /// <summary>Live mode: write the annotated video here (an existing file is never replaced).</summary>
    public string? Record { get; set; }

    /// <summary>Live mode: play a video file at its own frame rate, as a camera would deliver it (frames drop when inference lags).</summary>
    public bool RealtimePacing { get; set; }

    /// <summary>Live mode: restart a video file at its end instead of exiting.</summary>
    public bool Loop { get; set; }

    /// <summary>Live mode: weight of the newest frame in the moving average of probabilities (1 = no smoothing).</summary>
    public double Smoothing { get; set; } = 0.3;

    /// <summary>Live mode: frames per second the loop aims for when the source has no rate of its own.</summary>
    public double TargetFps { get; set; } = 30;

    /// <summary>Live mode: stop after this many seconds (0 = until the source ends or q is pressed).</summary>
    public double Duration { get; set; }

    /// <summary>Live mode: where the s key (and --snapshot-at) writes the displayed frame.</summary>
    public string SnapshotDir { get; set; } = "snapshots";

    /// <summary>Live mode: write a snapshot automatically after this many displayed frames (0 = only on the s key).</summary>
    public int SnapshotAt { get; set; }

    public bool IsFolderSource => Directory.Exists(Source) || (File.Exists(Source) && Shared.ImageFile.IsImagePath(Source));

    /// <summary>
    /// Binds section <see cref="Section"/> of <paramref name="configuration"/>. Choices (--device, --sort) are parsed
    /// here, once, case-insensitively: the configuration binder would throw at the first unknown name, so each wrong
    /// value (and any value the binder cannot convert) becomes a line in <paramref name="errors"/> instead, beside
    /// whatever else the validator finds.
    /// </summary>
    public static RealtimeOptions Bind(IConfiguration configuration, ICollection<string> errors)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentNullException.ThrowIfNull(errors);
        var options = new RealtimeOptions();
        var values = configuration.GetSection(Section).AsEnumerable(makePathsRelative: true)
            .Where(v => v.Value is not null)
            .ToDictionary(v => v.Key, v => v.Value, StringComparer.OrdinalIgnoreCase);
        options.Device = Choice(values, nameof(Device), "--device", options.Device, errors);
        options.Sort = Choice(values, nameof(Sort), "--sort", options.Sort, errors);
        try
        {
            new ConfigurationBuilder().AddInMemoryCollection(values).Build().Bind(options);
        }
        catch (InvalidOperationException e)
        {
            errors.Add(e.Message);
        }

        return options;
    }

    /// <summary>The lower-case name a choice has on the command line.</summary>
    public static string Text<T>(T choice)
        where T : struct, Enum => choice.ToString().ToLowerInvariant();

    private static T Choice<T>(Dictionary<string, string?> values, string key, string option, T fallback, ICollection<string> errors)
        where T : struct, Enum
    {
        if (!values.Remove(key, out var text))
        {
            return fallback;
        }

        // Only names count: Enum.TryParse alone would also take "2" or "cpu,cuda".
        var names = Enum.GetValues<T>().Select(Text).ToArray();
        if (Array.FindIndex(names, n => string.Equals(n, text?.Trim(), StringComparison.OrdinalIgnoreCase)) is var index and >= 0)
        {
            return Enum.GetValues<T>()[index];
        }

        errors.Add($"{option} '{text}' is not one of {string.Join(", ", names)}.");
        return fallback;
    }
}
