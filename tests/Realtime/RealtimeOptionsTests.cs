using System.CommandLine;
using System.CommandLine.Help;
using DogsVsCats.Vision.Realtime;
using DogsVsCats.Vision.Realtime.Cli;
using DogsVsCats.Vision.Realtime.Hosting;
using DogsVsCats.Vision.Realtime.Inference;
using DogsVsCats.Vision.Realtime.Labelling;
using DogsVsCats.Vision.Realtime.Live;
using DogsVsCats.Vision.Shared;
using Microsoft.Extensions.Configuration;

namespace DogsVsCats.Vision.Tests.Realtime;

/// <summary>The edge of the realtime app, in process: the command line, binding each mode's options (choices parsed once) and their checks.</summary>
[Trait("Category", "Fast")]
public sealed class RealtimeOptionsTests : IDisposable
{
    private readonly TempDirectory temp = new();

    public void Dispose() => temp.Dispose();

    [Fact]
    public async Task Parse_TypedOptionsOnly_BecomeConfigurationOverrides()
    {
        IReadOnlyDictionary<string, string?>? overrides = null;
        var root = RealtimeCli.Build(
            (values, _) =>
            {
                overrides = values;
                return Task.FromResult(0);
            },
            (_, _) => Task.FromResult(1));

        await root.Parse(["--model", "m.onnx", "--batch", "8", "--no-window"]).InvokeAsync();

        Assert.NotNull(overrides);
        Assert.Equal("m.onnx", overrides["Realtime:Model"]);
        Assert.Equal("8", overrides["Realtime:Batch"]);
        Assert.Equal("True", overrides["Realtime:NoWindow"]);
        // Untyped options must not mask appsettings.json or DOGSVSCATS_ variables with defaults.
        Assert.Equal(3, overrides.Count);
    }

    [Theory]
    [InlineData("cuda", "copy", InferenceDevice.Cuda, SortMode.Copy)]
    [InlineData("CPU", " Move ", InferenceDevice.Cpu, SortMode.Move)]
    [InlineData(null, null, InferenceDevice.Auto, SortMode.None)]
    internal void Bind_ChoiceNamesInAnyCase_BecomeEnums(string? device, string? sort, InferenceDevice expectedDevice, SortMode expectedSort)
    {
        var errors = new List<string>();

        var configuration = Configuration(("Device", device), ("Sort", sort), ("Batch", "8"));
        var classifier = OptionBinder.Bind<ClassifierOptions>(configuration, errors);
        var folder = OptionBinder.Bind<FolderOptions>(configuration, errors);

        Assert.Empty(errors);
        Assert.Equal((expectedDevice, expectedSort, 8), (classifier.Device, folder.Sort, folder.Batch));
    }

    [Fact]
    public void Bind_UnknownChoicesAndAnUnreadableNumber_OneLineEachInsteadOfAnException()
    {
        var errors = new List<string>();

        var configuration = Configuration(("Device", "tpu"), ("Sort", "2"), ("Batch", "many"), ("Model", "m.onnx"));
        var options = OptionBinder.Bind<ClassifierOptions>(configuration, errors);
        OptionBinder.Bind<FolderOptions>(configuration, errors);
        var live = OptionBinder.Bind<LiveOptions>(configuration, errors);

        Assert.Equal(3, errors.Count);
        Assert.Equal("0", live.Source);   // the live options hold none of the wrong keys, so they bind cleanly
        Assert.Contains("--device 'tpu' is not one of auto, cpu, cuda.", errors);
        Assert.Contains("--sort '2' is not one of none, copy, move.", errors);   // a number is not a name, though Enum.TryParse takes it
        Assert.Contains(errors, e => e.Contains("'many'", StringComparison.Ordinal) && e.Contains("Batch", StringComparison.Ordinal));
        Assert.Equal("m.onnx", options.Model);
    }

    [Fact]
    public void Bind_GoodFolderOptions_SucceedAsFolderMode()
    {
        var errors = new List<string>();

        var mode = RealtimeApp.Mode.Bind(Configuration(("Model", Model()), ("Source", temp.Path), ("Sort", "move"), ("Out", Path.Combine(temp.Path, "sorted"))), errors);

        Assert.Empty(errors);
        Assert.NotNull(mode.Folder);
        Assert.Null(mode.Live);
        Assert.Equal((SortMode.Move, 0.6), (mode.Folder.Sort, mode.Classifier.MinConfidence));
    }

    [Fact]
    public void Bind_CameraSource_IsLiveMode()
    {
        var errors = new List<string>();

        var mode = RealtimeApp.Mode.Bind(Configuration(("Model", Model()), ("Source", "0"), ("Smoothing", "0.5")), errors);

        Assert.Empty(errors);
        Assert.Null(mode.Folder);
        Assert.Equal(0.5, mode.Live!.Smoothing);
    }

    [Fact]
    public void Bind_EveryWrongValue_OneLineEachSayingWhatToChange()
    {
        var record = Path.Combine(temp.Path, "taken.mp4");
        File.WriteAllText(record, "");
        var missing = Path.Combine(temp.Path, "missing.onnx");
        var errors = new List<string>();

        RealtimeApp.Mode.Bind(
            Configuration(
                ("Model", missing),
                ("Source", "0"),
                ("Sort", "copy"),
                ("MinConfidence", "1.5"),
                ("Batch", "0"),
                ("Threads", "-1"),
                ("Smoothing", "0"),
                ("TargetFps", "0"),
                ("Duration", "-1"),
                ("Record", record)),
            errors);

        Assert.Equal(
            [
                "--model '" + missing + "' does not exist. Train first ('trainer train') or export a checkpoint ('trainer export').",
                "--threads -1 must be 0 (all cores) or more.",
                "--min-confidence 1.5 must be between 0 and 1.",
                "--smoothing 0 must be in (0, 1]: the newest frame's weight (1 = no smoothing).",
                "--target-fps 0 must be in (0, 1000].",
                "--duration and --snapshot-at must be 0 or more.",
                "--record '" + record + "' already exists; choose another name (an existing file is never replaced).",
                "--sort copy needs --out DIR: the folder that receives <label>/ and uncertain/.",
                "--batch 0 must be between 1 and 1024.",
                "--sort copy works on a folder or an image; --source '0' is neither.",
            ],
            errors);
    }

    [Fact]
    public void Bind_NoModel_SaysWhereOneComesFrom()
    {
        var errors = new List<string>();

        RealtimeApp.Mode.Bind(Configuration(("Source", temp.Path)), errors);

        Assert.Equal("--model is required: the model.onnx that 'trainer train' or 'trainer export' wrote.", Assert.Single(errors));
    }

    [Fact]
    public void EveryOption_HasARow()
    {
        var options = RealtimeCli.Build((_, _) => Task.FromResult(0), (_, _) => Task.FromResult(1)).Options.Where(o => o is not HelpOption and not VersionOption).Select(o => o.Name).Order();

        Assert.Equal(options, Rows().Select(r => r.Option).Distinct().Order());
    }

    [Fact]
    public async Task EveryOption_ReachesTheOptionsOfItsMode()
    {
        var defaults = new RealtimeApp.Mode(new ClassifierOptions(), new FolderOptions(), new LiveOptions());

        foreach (var row in Rows())
        {
            var (code, mode, errors) = await BindCommandLine(row.Args);

            Assert.True(!Equals(row.Read(defaults), row.Expected), $"{row.Option}: {row.Expected} is its default, so this row proves nothing");
            Assert.True(code == ExitCodes.Ok && errors.Count == 0, $"{string.Join(' ', row.Args)}: exit {code}; {string.Join(" ", errors)}");
            Assert.True(Equals(row.Read(mode!), row.Expected), $"{row.Option}: bound {row.Read(mode!)}, expected {row.Expected}");
        }
    }

    [Theory]
    [InlineData("--threads", "--model", "m.onnx", "--threads", "many")]
    [InlineData("--min-confidence", "--model", "m.onnx", "--min-confidence", "high")]
    [InlineData("--snapshot-at", "--model", "m.onnx", "--snapshot-at", "1.5")]
    [InlineData("--bogus", "--model", "m.onnx", "--bogus")]
    public async Task ParseError_ExitsTwoNamingTheOption(string option, params string[] args)
    {
        using var error = new StringWriter();
        var ran = false;
        var root = RealtimeCli.Build((_, _) =>
        {
            ran = true;
            return Task.FromResult(0);
        }, (_, _) => Task.FromResult(1));

        var code = await CommandLineRun.InvokeAsync(root, args, error);

        Assert.Equal(ExitCodes.BadInput, code);
        Assert.False(ran);
        Assert.Contains(option, Assert.Single(error.ToString().Split('\n'), l => l.StartsWith("error: ", StringComparison.Ordinal)), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bind_ChoiceOutsideItsNames_IsAnErrorNamingTheOption()
    {
        var (code, _, errors) = await BindCommandLine(["--model", Model(), "--source", temp.Path, "--device", "tpu", "--sort", "shuffle"]);

        Assert.Equal(ExitCodes.Ok, code);   // the parser takes any text; the binder checks it, wherever it came from
        Assert.Equal(["--device 'tpu' is not one of auto, cpu, cuda.", "--sort 'shuffle' is not one of none, copy, move."], errors);
    }

    /// <summary>One option's proof: the arguments that set it and what the bound options must then hold.</summary>
    private sealed record Row(string Option, string[] Args, Func<RealtimeApp.Mode, object?> Read, object? Expected);

    private IEnumerable<Row> Rows()
    {
        var model = Model();
        string[] live = ["--model", model];
        string[] folder = ["--model", model, "--source", temp.Path];
        var other = Path.Combine(temp.Path, "other.onnx");
        File.WriteAllText(other, "");
        var file = Path.Combine(temp.Path, "out");
        return
        [
            new("--model", ["--model", other], m => m.Classifier.Model, other),
            new("--model", ["-m", other], m => m.Classifier.Model, other),
            new("--device", [.. live, "--device", "cpu"], m => m.Classifier.Device, InferenceDevice.Cpu),
            new("--threads", [.. live, "--threads", "3"], m => m.Classifier.Threads, 3),
            new("--min-confidence", [.. live, "--min-confidence", "0.8"], m => m.Classifier.MinConfidence, 0.8),
            new("--source", ["--model", model, "--source", temp.Path], m => m.Folder?.Source, temp.Path),
            new("--source", ["--model", model, "-s", "1"], m => m.Live?.Source, "1"),
            new("--jsonl", [.. folder, "--jsonl", file], m => m.Folder?.Jsonl, file),
            new("--jsonl", [.. live, "--jsonl", file], m => m.Live?.Jsonl, file),
            new("--batch", [.. folder, "-b", "8"], m => m.Folder?.Batch, 8),
            new("--csv", [.. folder, "--csv", "found.csv"], m => m.Folder?.Csv, "found.csv"),
            new("--sort", [.. folder, "--sort", "copy", "--out", file], m => m.Folder?.Sort, SortMode.Copy),
            new("--out", [.. folder, "-o", file], m => m.Folder?.Out, file),
            new("--dry-run", [.. folder, "--dry-run"], m => m.Folder?.DryRun, true),
            new("--no-window", [.. live, "--no-window"], m => m.Live?.NoWindow, true),
            new("--heatmap", [.. live, "--heatmap"], m => m.Live?.Heatmap, true),
            new("--record", [.. live, "--record", file + ".mp4"], m => m.Live?.Record, file + ".mp4"),
            new("--realtime-pacing", [.. live, "--realtime-pacing"], m => m.Live?.RealtimePacing, true),
            new("--loop", [.. live, "--loop"], m => m.Live?.Loop, true),
            new("--smoothing", [.. live, "--smoothing", "0.5"], m => m.Live?.Smoothing, 0.5),
            new("--target-fps", [.. live, "--target-fps", "15"], m => m.Live?.TargetFps, 15.0),
            new("--duration", [.. live, "--duration", "2.5"], m => m.Live?.Duration, 2.5),
            new("--snapshot-dir", [.. live, "--snapshot-dir", file], m => m.Live?.SnapshotDir, file),
            new("--snapshot-at", [.. live, "--snapshot-at", "5"], m => m.Live?.SnapshotAt, 5),
        ];
    }

    /// <summary>The command line as the app reads it: parsed, layered over a settings file that is absent, bound to its mode.</summary>
    private async Task<(int Code, RealtimeApp.Mode? Mode, List<string> Errors)> BindCommandLine(string[] args)
    {
        IReadOnlyDictionary<string, string?>? overrides = null;
        var root = RealtimeCli.Build((values, _) =>
        {
            overrides = values;
            return Task.FromResult(ExitCodes.Ok);
        }, (_, _) => Task.FromResult(1));
        var code = await CommandLineRun.InvokeAsync(root, args, TextWriter.Null);
        var errors = new List<string>();
        var mode = overrides is null ? null : RealtimeApp.Mode.Bind(RealtimeApp.Configuration(Path.Combine(temp.Path, "absent.json"), overrides), errors);
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
            .AddInMemoryCollection(values.Where(v => v.Value is not null).Select(v => new KeyValuePair<string, string?>($"{OptionBinder.Section}:{v.Key}", v.Value)))
            .Build();
}
