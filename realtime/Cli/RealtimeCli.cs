using System.CommandLine;
using System.Globalization;
using DogsVsCats.Vision.Shared;

namespace DogsVsCats.Vision.Realtime.Cli;

/// <summary>
/// The command line, parsed with System.CommandLine so --help is generated from the same options that are read.
/// Only options the user typed become configuration (on top of appsettings.json and DOGSVSCATS_ variables);
/// defaults stay in <see cref="RealtimeOptions"/>, which the help text quotes.
/// </summary>
public static class RealtimeCli
{
    public static RootCommand Build(Func<IReadOnlyDictionary<string, string?>, CancellationToken, Task<int>> run)
    {
        ArgumentNullException.ThrowIfNull(run);
        var defaults = new RealtimeOptions();
        var root = new RootCommand(
            "Label a camera, video, stream, folder or image with an exported DogsVsCats.Vision model. " +
            "A folder or image is labelled in batches (labels.csv, optional sorting); anything else is played live. " +
            "Every option can also come from appsettings.json (section 'Realtime') or a variable such as DOGSVSCATS_REALTIME__MODEL. " +
            ExitCodes.Help);
        var bindings = new List<(Option Option, string Key, Func<ParseResult, string?> Value)>();

        void Add<T>(string name, string key, string description, string? alias = null)
        {
            var option = alias is null ? new Option<T>(name) : new Option<T>(name, alias);
            option.Description = description;
            root.Options.Add(option);
            bindings.Add((option, key, parsed => Convert.ToString(parsed.GetValue(option), CultureInfo.InvariantCulture)));
        }

        Add<string>("--model", nameof(RealtimeOptions.Model), "(required) The model.onnx that 'trainer train' or 'trainer export' wrote.", "-m");
        Add<string>("--source", nameof(RealtimeOptions.Source), $"Camera index (0), device path (/dev/video0), video file, rtsp/http url (where the OpenCV build has network protocols; the bundled Linux one has not), image sequence (frame%04d.jpg), folder or image [default: {defaults.Source}].", "-s");
        Add<string>("--device", nameof(RealtimeOptions.Device), $"auto (CUDA when ONNX Runtime can load it, else CPU, said in one line), cpu, cuda (fail unless CUDA loads) [default: {RealtimeOptions.Text(defaults.Device)}].");
        Add<int>("--threads", nameof(RealtimeOptions.Threads), "ONNX Runtime threads (0 = all cores) [default: 0].");
        Add<double>("--min-confidence", nameof(RealtimeOptions.MinConfidence), $"Below this probability the label is 'uncertain' (folder: sorted into uncertain/) [default: {defaults.MinConfidence}].");
        Add<string>("--jsonl", nameof(RealtimeOptions.Jsonl), "Also write one JSON object per image (folder) or frame (live) to this file.");
        Add<int>("--batch", nameof(RealtimeOptions.Batch), $"Folder: images per inference [default: {defaults.Batch}].", "-b");
        Add<string>("--csv", nameof(RealtimeOptions.Csv), $"Folder: results CSV (path, label, confidence, one column per class, width, height, error, destination); relative to --out when given. A rerun skips what it lists [default: {defaults.Csv}].");
        Add<string>("--sort", nameof(RealtimeOptions.Sort), $"Folder: none, copy or move every photo into --out/<label>/ (or --out/uncertain/). Never overwrites; a move survives interruption [default: {RealtimeOptions.Text(defaults.Sort)}].");
        Add<string>("--out", nameof(RealtimeOptions.Out), "Folder: where --sort puts the photos (and labels.csv).", "-o");
        Add<bool>("--dry-run", nameof(RealtimeOptions.DryRun), "Folder: classify and report what would be sorted; write, copy and move nothing.");
        Add<bool>("--no-window", nameof(RealtimeOptions.NoWindow), "Live: no window; predictions are logged.");
        Add<bool>("--heatmap", nameof(RealtimeOptions.Heatmap), "Live: start with the class activation map of the label drawn over the region the model sees (h toggles).");
        Add<string>("--record", nameof(RealtimeOptions.Record), "Live: write the annotated video to this .mp4 (an existing file is never replaced).");
        Add<bool>("--realtime-pacing", nameof(RealtimeOptions.RealtimePacing), "Live: play a video file at its own frame rate, as a camera delivers frames (late frames are dropped, not queued).");
        Add<bool>("--loop", nameof(RealtimeOptions.Loop), "Live: restart a video file at its end.");
        Add<double>("--smoothing", nameof(RealtimeOptions.Smoothing), $"Live: weight of the newest frame in the moving average of probabilities (1 = none) [default: {defaults.Smoothing}].");
        Add<double>("--target-fps", nameof(RealtimeOptions.TargetFps), $"Live: frame rate to aim for when the source reports none [default: {defaults.TargetFps}].");
        Add<double>("--duration", nameof(RealtimeOptions.Duration), "Live: stop after this many seconds (0 = until the source ends, q or Esc) [default: 0].");
        Add<string>("--snapshot-dir", nameof(RealtimeOptions.SnapshotDir), $"Live: where the s key writes the displayed frame [default: {defaults.SnapshotDir}].");
        Add<int>("--snapshot-at", nameof(RealtimeOptions.SnapshotAt), "Live: also write a snapshot after this many displayed frames (0 = only on s) [default: 0].");

        root.SetAction((parsed, cancel) =>
        {
            var overrides = new Dictionary<string, string?>();
            foreach (var (option, key, value) in bindings)
            {
                var result = parsed.GetResult(option);
                if (result is not null && !result.Implicit)
                {
                    overrides[$"{RealtimeOptions.Section}:{key}"] = value(parsed);
                }
            }

            return run(overrides, cancel);
        });
        return root;
    }
}
