using DogsVsCats.Vision.Realtime;
using DogsVsCats.Vision.Realtime.Cli;
using DogsVsCats.Vision.Realtime.Hosting;
using DogsVsCats.Vision.Realtime.Inference;
using DogsVsCats.Vision.Realtime.Labelling;
using DogsVsCats.Vision.Realtime.Live;
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
    public void Bind_ChoiceNamesInAnyCase_BecomeEnums(string? device, string? sort, InferenceDevice expectedDevice, SortMode expectedSort)
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
