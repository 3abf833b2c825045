using DogsVsCats.Vision.Realtime;
using DogsVsCats.Vision.Realtime.Cli;
using DogsVsCats.Vision.Realtime.Hosting;
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
