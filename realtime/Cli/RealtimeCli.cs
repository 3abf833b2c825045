using System.CommandLine;
using System.Globalization;
using DogsVsCats.Vision.Realtime.Hosting;
using DogsVsCats.Vision.Realtime.Inference;
using DogsVsCats.Vision.Realtime.Labelling;
using DogsVsCats.Vision.Realtime.Live;
using DogsVsCats.Vision.Realtime.Serving;
using DogsVsCats.Vision.Shared;

namespace DogsVsCats.Vision.Realtime.Cli;

/// <summary>
/// The command line, parsed with System.CommandLine so --help is generated from the same options that are read. Each
/// option's name is its options property's (MinConfidence -> --min-confidence). Only options the user typed become
/// configuration (on top of appsettings.json and DOGSVSCATS_ variables); defaults stay in the options types, which the
/// help text quotes.
/// </summary>
internal static class RealtimeCli
{
    public static RootCommand Build(Func<IReadOnlyDictionary<string, string?>, CancellationToken, Task<int>> run, Func<IReadOnlyDictionary<string, string?>, CancellationToken, Task<int>> serve)
    {
        var root = new RootCommand(
            "Label a camera, video, stream, folder or image with an exported DogsVsCats.Vision model. " +
            "A folder or image is labelled in batches (labels.csv, optional sorting); anything else is played live. " +
            "Every option can also come from appsettings.json (section 'Realtime') or a variable such as DOGSVSCATS_REALTIME__MODEL. " +
            ExitCodes.Help);
        var bindings = new List<Binding>();
        Command command = root;

        void Add<T>(string property, string description, string? alias = null)
        {
            var name = OptionBinder.OptionName(property);
            var option = alias is null ? new Option<T>(name) : new Option<T>(name, alias);
            option.Description = description;
            command.Options.Add(option);
            bindings.Add(new Binding(option, property, parsed => Convert.ToString(parsed.GetValue(option), CultureInfo.InvariantCulture)));
        }

        var model = new ClassifierOptions();
        var live = new LiveOptions();
        var folder = new FolderOptions();
        void AddClassifier()
        {
            Add<string>(nameof(ClassifierOptions.Model), "(required) The model.onnx that 'trainer train' or 'trainer export' wrote.", alias: "-m");
            Add<string>(nameof(ClassifierOptions.Device), $"auto (CUDA when ONNX Runtime can load it, else CPU, said in one line), cpu, cuda (fail unless CUDA loads) [default: {OptionBinder.Text(model.Device)}].");
            Add<int>(nameof(ClassifierOptions.Threads), "ONNX Runtime threads (0 = all cores) [default: 0].");
            Add<double>(nameof(ClassifierOptions.MinConfidence), $"Below this probability the label is 'uncertain' (folder: sorted into uncertain/) [default: {model.MinConfidence}].");
        }

        AddClassifier();
        Add<string>(nameof(LiveOptions.Source), $"Camera index (0), device path (/dev/video0), video file, rtsp/http url (where the OpenCV build has network protocols; the bundled Linux one has not), image sequence (frame%04d.jpg), folder or image [default: {live.Source}].", alias: "-s");
        Add<string>(nameof(LiveOptions.Jsonl), "Also write one JSON object per image (folder) or frame (live) to this file.");
        Add<int>(nameof(FolderOptions.Batch), $"Folder: images per inference [default: {folder.Batch}].", alias: "-b");
        Add<string>(nameof(FolderOptions.Csv), $"Folder: results CSV (path, label, confidence, one column per class, width, height, error, destination); relative to --out when given. A rerun skips what it lists [default: {folder.Csv}].");
        Add<string>(nameof(FolderOptions.Sort), $"Folder: none, copy or move every photo into --out/<label>/ (or --out/uncertain/). Never overwrites; a move survives interruption [default: {OptionBinder.Text(folder.Sort)}].");
        Add<string>(nameof(FolderOptions.Out), "Folder: where --sort puts the photos (and labels.csv).", alias: "-o");
        Add<bool>(nameof(FolderOptions.DryRun), "Folder: classify and report what would be sorted; write, copy and move nothing.");
        Add<bool>(nameof(LiveOptions.NoWindow), "Live: no window; predictions are logged.");
        Add<bool>(nameof(LiveOptions.Heatmap), "Live: start with the class activation map of the label drawn over the region the model sees (h toggles).");
        Add<string>(nameof(LiveOptions.Record), "Live: write the annotated video to this .mp4 (an existing file is never replaced).");
        Add<bool>(nameof(LiveOptions.RealtimePacing), "Live: play a video file at its own frame rate, as a camera delivers frames (late frames are dropped, not queued).");
        Add<bool>(nameof(LiveOptions.Loop), "Live: restart a video file at its end.");
        Add<double>(nameof(LiveOptions.Smoothing), $"Live: weight of the newest frame in the moving average of probabilities (1 = none) [default: {live.Smoothing}].");
        Add<double>(nameof(LiveOptions.TargetFps), $"Live: frame rate to aim for when the source reports none [default: {live.TargetFps}].");
        Add<double>(nameof(LiveOptions.Duration), "Live: stop after this many seconds (0 = until the source ends, q or Esc) [default: 0].");
        Add<string>(nameof(LiveOptions.SnapshotDir), $"Live: where the s key writes the displayed frame [default: {live.SnapshotDir}].");
        Add<int>(nameof(LiveOptions.SnapshotAt), "Live: also write a snapshot after this many displayed frames (0 = only on s) [default: 0].");

        var rootBindings = bindings.ToList();
        root.SetAction((parsed, cancel) => run(Overrides(parsed, rootBindings), cancel));

        var served = new ServeOptions();
        command = new Command(
            "serve",
            "Serve the model over HTTP: the Open Inference Protocol (KServe V2, as Triton speaks it) at /v2, a plain POST /v1/classify, " +
            "Prometheus metrics at /metrics, a page at / (photos, this device's camera, the --source live view). Requests that arrive together run as one batch. Ctrl+C or SIGTERM stop taking requests, " +
            "answer those queued, then exit 0. Options also come from appsettings.json (section 'Realtime') or variables such as DOGSVSCATS_REALTIME__APIKEY.");
        bindings.Clear();
        AddClassifier();
        Add<string>(nameof(ServeOptions.Urls), $"Where to listen, separated by ';'. Anything but a loopback address serves beyond this machine (the log says so) [default: {served.Urls}].");
        Add<string>(nameof(ServeOptions.ModelName), $"The model's name in the protocol's paths (/v2/models/NAME) [default: {served.ModelName}].");
        Add<int>(nameof(ServeOptions.MaxBatch), $"The most images one inference run takes; also the most one request may send [default: {served.MaxBatch}].");
        Add<double>(nameof(ServeOptions.MaxQueueDelayMs), $"How long the oldest waiting request may wait for others to fill its batch, in ms; a lone request never waits [default: {served.MaxQueueDelayMs}].");
        Add<int>(nameof(ServeOptions.MaxQueue), $"Requests that may wait for inference; beyond it a request gets 503 at once [default: {served.MaxQueue}].");
        Add<int>(nameof(ServeOptions.MaxRequestMb), $"The largest request body in MiB; beyond it 413 [default: {served.MaxRequestMb}].");
        Add<string>(nameof(ServeOptions.CorsOrigins), "Origins whose web pages may call the API, separated by ',' (e.g. https://example.com) [default: none].");
        Add<string>(nameof(ServeOptions.ApiKey), "When set, every endpoint but the health probes and the page needs 'Authorization: Bearer KEY' (16+ characters; better from DOGSVSCATS_REALTIME__APIKEY than on a command line others can read).");
        Add<double>(nameof(ServeOptions.DrainSeconds), $"On Ctrl+C or SIGTERM, how long to answer requests already taken before exiting [default: {served.DrainSeconds}].");
        Add<string>(nameof(ServeOptions.Source), "Also play this camera index, device path, video file or stream live, as realtime does, and show its annotated frames and labels on the page (/v1/live.mjpeg, /v1/live/events). When a video file ends, the live view ends and the server goes on (--loop restarts the video) [default: none].", alias: "-s");
        Add<bool>(nameof(LiveOptions.RealtimePacing), "Live: play a video file at its own frame rate, as a camera delivers frames.");
        Add<bool>(nameof(LiveOptions.Loop), "Live: restart a video file at its end.");
        Add<bool>(nameof(LiveOptions.Heatmap), "Live: draw the class activation map of the label over the frames.");
        Add<double>(nameof(LiveOptions.Smoothing), $"Live: weight of the newest frame in the moving average of probabilities (1 = none) [default: {live.Smoothing}].");
        Add<double>(nameof(LiveOptions.TargetFps), $"Live: frame rate to aim for when the source reports none [default: {live.TargetFps}].");
        Add<string>(nameof(LiveOptions.Record), "Live: also write the annotated video to this .mp4 (an existing file is never replaced).");
        Add<string>(nameof(LiveOptions.Jsonl), "Live: also write one JSON object per frame to this file.");
        var serveBindings = bindings.ToList();
        command.SetAction((parsed, cancel) => serve(Overrides(parsed, serveBindings), cancel));
        root.Subcommands.Add(command);
        return root;
    }

    private static Dictionary<string, string?> Overrides(ParseResult parsed, List<Binding> bindings)
    {
        var overrides = new Dictionary<string, string?>();
        foreach (var binding in bindings)
        {
            var result = parsed.GetResult(binding.Option);
            if (result is not null && !result.Implicit)
            {
                overrides[$"{OptionBinder.Section}:{binding.Key}"] = binding.Value(parsed);
            }
        }

        return overrides;
    }

    private sealed record Binding(Option Option, string Key, Func<ParseResult, string?> Value);
}
