using System.CommandLine.Help;
using DogsVsCats.Vision.Realtime;
using DogsVsCats.Vision.Realtime.Cli;
using DogsVsCats.Vision.Realtime.Hosting;
using DogsVsCats.Vision.Realtime.Inference;
using DogsVsCats.Vision.Realtime.Live;
using DogsVsCats.Vision.Realtime.Serving;
using DogsVsCats.Vision.Shared;
using Microsoft.Extensions.Configuration;

namespace DogsVsCats.Vision.Tests.Serving;

/// <summary>serve's options at the edge: --source and the live options that come with it, bound and checked like the other modes'.</summary>
[Trait("Category", "Fast")]
public sealed class ServeModeTests : IDisposable
{
    private readonly TempDirectory temp = new();

    public void Dispose() => temp.Dispose();

    [Fact]
    public async Task Parse_ServeWithSource_LiveOptionsBecomeOverrides()
    {
        IReadOnlyDictionary<string, string?>? overrides = null;
        var root = RealtimeCli.Build(
            (_, _) => Task.FromResult(1),
            (values, _) =>
            {
                overrides = values;
                return Task.FromResult(0);
            });

        var code = await root.Parse(["serve", "--model", "m.onnx", "--source", "cat.mp4", "--loop", "--realtime-pacing", "--smoothing", "0.5"]).InvokeAsync();

        Assert.Equal(0, code);
        Assert.NotNull(overrides);
        Assert.Equal(
            new Dictionary<string, string?>
            {
                ["Realtime:Model"] = "m.onnx",
                ["Realtime:Source"] = "cat.mp4",
                ["Realtime:Loop"] = "True",
                ["Realtime:RealtimePacing"] = "True",
                ["Realtime:Smoothing"] = "0.5",
            },
            overrides);
    }

    [Fact]
    public void Bind_NoSource_NoLiveLoop()
    {
        var errors = new List<string>();

        var mode = RealtimeApp.ServeMode.Bind(Configuration(("Model", Model()), ("Loop", "true")), errors);

        Assert.Empty(errors);
        Assert.Null(mode.Live);
    }

    [Fact]
    public void Bind_VideoSource_LiveLoopWithoutWindowUnlessAsked()
    {
        var video = Path.Combine(temp.Path, "clip.mp4");
        File.WriteAllText(video, "");
        var errors = new List<string>();

        var mode = RealtimeApp.ServeMode.Bind(Configuration(("Model", Model()), ("Source", video), ("Loop", "true"), ("Smoothing", "0.5")), errors);
        var windowed = RealtimeApp.ServeMode.Bind(Configuration(("Model", Model()), ("Source", video), ("NoWindow", "false")), errors);

        Assert.Empty(errors);
        Assert.Equal((video, video, true, true, 0.5), (mode.Serve.Source, mode.Live!.Source, mode.Live.NoWindow, mode.Live.Loop, mode.Live.Smoothing));
        Assert.False(windowed.Live!.NoWindow);
    }

    [Fact]
    public void Bind_FolderSourceAndBadLiveValues_OneLineEach()
    {
        var errors = new List<string>();

        RealtimeApp.ServeMode.Bind(Configuration(("Model", Model()), ("Source", temp.Path), ("TargetFps", "0")), errors);

        Assert.Equal(
            [
                $"serve --source '{temp.Path}' is a folder or an image; serve plays a camera, video or stream live. Label photos with POST /v1/classify or the page, or a folder with 'realtime --source DIR'.",
                "--target-fps 0 must be in (0, 1000].",
            ],
            errors);
    }

    [Fact]
    public void EveryServeOption_HasARow()
    {
        var serve = RealtimeCli.Build((_, _) => Task.FromResult(1), (_, _) => Task.FromResult(0)).Subcommands.Single(c => c.Name == "serve");
        var options = serve.Options.Where(o => o is not HelpOption).Select(o => o.Name).Order();

        Assert.Equal(options, Rows().Select(r => r.Option).Distinct().Order());
    }

    [Fact]
    public async Task EveryServeOption_ReachesTheServeMode()
    {
        var defaults = new RealtimeApp.ServeMode(new ClassifierOptions(), new ServeOptions(), new LiveOptions());

        foreach (var row in Rows())
        {
            var (code, mode, errors) = await BindCommandLine(row.Args);

            Assert.True(!Equals(row.Read(defaults), row.Expected), $"{row.Option}: {row.Expected} is its default, so this row proves nothing");
            Assert.True(code == ExitCodes.Ok && errors.Count == 0, $"{string.Join(' ', row.Args)}: exit {code}; {string.Join(" ", errors)}");
            Assert.True(Equals(row.Read(mode!), row.Expected), $"{row.Option}: bound {row.Read(mode!)}, expected {row.Expected}");
        }
    }

    /// <summary>One option's proof: the arguments that set it and what the bound serve mode must then hold.</summary>
    private sealed record Row(string Option, string[] Args, Func<RealtimeApp.ServeMode, object?> Read, object? Expected);

    private IEnumerable<Row> Rows()
    {
        var model = Model();
        string[] serve = ["serve", "--model", model];
        var video = Path.Combine(temp.Path, "clip.mp4");
        File.WriteAllText(video, "");
        string[] live = [.. serve, "--source", video];
        var other = Path.Combine(temp.Path, "other.onnx");
        File.WriteAllText(other, "");
        var file = Path.Combine(temp.Path, "out");
        return
        [
            new("--model", ["serve", "--model", other], m => m.Classifier.Model, other),
            new("--model", ["serve", "-m", other], m => m.Classifier.Model, other),
            new("--device", [.. serve, "--device", "cpu"], m => m.Classifier.Device, InferenceDevice.Cpu),
            new("--threads", [.. serve, "--threads", "3"], m => m.Classifier.Threads, 3),
            new("--min-confidence", [.. serve, "--min-confidence", "0.8"], m => m.Classifier.MinConfidence, 0.8),
            new("--urls", [.. serve, "--urls", "http://127.0.0.1:9000"], m => m.Serve.Urls, "http://127.0.0.1:9000"),
            new("--model-name", [.. serve, "--model-name", "pets"], m => m.Serve.ModelName, "pets"),
            new("--max-batch", [.. serve, "--max-batch", "8"], m => m.Serve.MaxBatch, 8),
            new("--max-queue-delay-ms", [.. serve, "--max-queue-delay-ms", "7.5"], m => m.Serve.MaxQueueDelayMs, 7.5),
            new("--max-queue", [.. serve, "--max-queue", "64"], m => m.Serve.MaxQueue, 64),
            new("--max-request-mb", [.. serve, "--max-request-mb", "4"], m => m.Serve.MaxRequestMb, 4),
            new("--cors-origins", [.. serve, "--cors-origins", "https://example.com"], m => m.Serve.CorsOrigins, "https://example.com"),
            new("--api-key", [.. serve, "--api-key", "0123456789abcdef"], m => m.Serve.ApiKey, "0123456789abcdef"),
            new("--drain-seconds", [.. serve, "--drain-seconds", "3"], m => m.Serve.DrainSeconds, 3.0),
            new("--source", live, m => m.Live?.Source, video),
            new("--source", [.. serve, "-s", video], m => m.Serve.Source, video),
            new("--realtime-pacing", [.. live, "--realtime-pacing"], m => m.Live?.RealtimePacing, true),
            new("--loop", [.. live, "--loop"], m => m.Live?.Loop, true),
            new("--heatmap", [.. live, "--heatmap"], m => m.Live?.Heatmap, true),
            new("--smoothing", [.. live, "--smoothing", "0.5"], m => m.Live?.Smoothing, 0.5),
            new("--target-fps", [.. live, "--target-fps", "15"], m => m.Live?.TargetFps, 15.0),
            new("--record", [.. live, "--record", file + ".mp4"], m => m.Live?.Record, file + ".mp4"),
            new("--jsonl", [.. live, "--jsonl", file], m => m.Live?.Jsonl, file),
        ];
    }

    /// <summary>The command line as the app reads it: parsed, layered over a settings file that is absent, bound to the serve mode.</summary>
    private async Task<(int Code, RealtimeApp.ServeMode? Mode, List<string> Errors)> BindCommandLine(string[] args)
    {
        IReadOnlyDictionary<string, string?>? overrides = null;
        var root = RealtimeCli.Build((_, _) => Task.FromResult(1), (values, _) =>
        {
            overrides = values;
            return Task.FromResult(ExitCodes.Ok);
        });
        var code = await CommandLineRun.InvokeAsync(root, args, TextWriter.Null);
        var errors = new List<string>();
        var mode = overrides is null ? null : RealtimeApp.ServeMode.Bind(RealtimeApp.Configuration(Path.Combine(temp.Path, "absent.json"), overrides), errors);
        return (code, mode, errors);
    }

    private string Model()
    {
        var path = Path.Combine(temp.Path, "model.onnx");
        File.WriteAllText(path, "");
        return path;
    }

    private static IConfiguration Configuration(params (string Key, string? Value)[] values) =>
        new ConfigurationBuilder()
            .AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>($"{OptionBinder.Section}:{v.Key}", v.Value)))
            .Build();
}
