using System.Text.Json;
using DogsVsCats.Vision.Realtime.Inference;
using DogsVsCats.Vision.Realtime.Live;

namespace DogsVsCats.Vision.Tests.Realtime;

/// <summary>The frame loop's stages that need no model or window: smoothing, the input stage, the JSON line.</summary>
[Trait("Category", "Fast")]
public sealed class LiveStagesTests
{
    private static readonly string[] Labels = ["cat", "dog"];

    [Fact]
    public void Smoother_FlipBetweenFrames_MovesByTheNewestFramesWeight()
    {
        var smoother = new ProbabilitySmoother(weight: 0.3);

        var first = smoother.Next(Raw(1f, 0f));
        var second = smoother.Next(Raw(0f, 1f));

        // 0.3 * new + 0.7 * old: one contrary frame does not flip the label.
        Assert.Equal([1f, 0f], first.Probabilities);
        Assert.Equal(0.7f, second.Probabilities[0], 5);
        Assert.Equal(0.3f, second.Probabilities[1], 5);
        Assert.Equal("cat", second.LabelAt(0.6));
    }

    [Fact]
    public void Smoother_LaterFrames_LeaveEarlierResultsAsTheyWere()
    {
        var smoother = new ProbabilitySmoother(weight: 0.5);
        var raw = Raw(0.9f, 0.1f);

        var first = smoother.Next(raw);
        smoother.Next(Raw(0.1f, 0.9f));

        Assert.Equal([0.9f, 0.1f], first.Probabilities);
        Assert.Equal([0.9f, 0.1f], raw.Probabilities);
    }

    [Fact]
    public void Smoother_BelowMinConfidence_LabelIsUncertain()
    {
        var smoothed = new ProbabilitySmoother(weight: 1).Next(Raw(0.55f, 0.45f));

        Assert.Equal(Prediction.Uncertain, smoothed.LabelAt(0.6));
        Assert.Equal(0.55f, smoothed.Confidence, 5);
    }

    [Fact]
    public void Input_CommandsPostedDuringAPass_TakeEffectAtTheNextPassInOrder()
    {
        var input = new LiveInput(heatmap: true);
        Assert.Equal(new ViewState(Paused: false, ShowHeatmap: true, Snapshot: false, Quit: false), input.Next());

        input.Post(LiveCommand.ToggleHeatmap);
        input.Post(LiveCommand.TogglePause);
        input.Post(LiveCommand.Snapshot);

        Assert.Equal(new ViewState(Paused: true, ShowHeatmap: false, Snapshot: true, Quit: false), input.Next());
        // A snapshot is taken once; the toggles stay until toggled again.
        Assert.Equal(new ViewState(Paused: true, ShowHeatmap: false, Snapshot: false, Quit: false), input.Next());
        input.Post(LiveCommand.TogglePause);
        input.Post(LiveCommand.Quit);
        Assert.Equal(new ViewState(Paused: false, ShowHeatmap: false, Snapshot: false, Quit: true), input.Next());
    }

    [Fact]
    public void Line_LiveFrame_RawProbabilitiesAndSmoothedNamedApartAndLabelFromSmoothed()
    {
        var smoother = new ProbabilitySmoother(weight: 0.5);
        smoother.Next(Raw(0.9f, 0.1f));
        var raw = Raw(0.3f, 0.7f);
        var smoothed = smoother.Next(raw);

        var line = JsonDocument.Parse((PredictionLine.Of(smoothed.LabelAt(0.55), raw, smoothed) with { Frame = 7, LatencyMs = 12.5, Fps = 30, Dropped = 2 }).ToJson()).RootElement;

        Assert.Equal(0.3, line.GetProperty("probabilities").GetProperty("cat").GetDouble(), 5);
        Assert.Equal(0.6, line.GetProperty("smoothed").GetProperty("cat").GetDouble(), 5);
        Assert.Equal("cat", line.GetProperty("label").GetString());
        Assert.Equal("dog", line.GetProperty("raw_label").GetString());
        Assert.Equal(0.6, line.GetProperty("confidence").GetDouble(), 5);
        Assert.Equal(7, line.GetProperty("frame").GetInt64());
        Assert.Equal(2, line.GetProperty("dropped").GetInt64());
        Assert.Equal(4, line.GetProperty("timings_ms").GetProperty("inference").GetDouble());
        Assert.False(line.TryGetProperty("path", out _));
    }

    [Fact]
    public void Line_FolderImageAndUnreadableFile_SameKeysLessWhatTheyLack()
    {
        var photo = JsonDocument.Parse((PredictionLine.Of("dog", Raw(0.3f, 0.7f)) with { Path = "/p/a.jpg", Destination = "/s/dog/a.jpg" }).ToJson()).RootElement;
        var unreadable = JsonDocument.Parse((PredictionLine.Of("", null) with { Path = "/p/b.jpg", Error = "empty file" }).ToJson()).RootElement;

        Assert.Equal(
            ["path", "label", "confidence", "raw_label", "probabilities", "width", "height", "destination", "timings_ms"],
            photo.EnumerateObject().Select(p => p.Name));
        Assert.Equal(0.7, photo.GetProperty("probabilities").GetProperty("dog").GetDouble(), 5);
        Assert.Equal(["path", "label", "error"], unreadable.EnumerateObject().Select(p => p.Name));
    }

    private static Prediction Raw(params float[] probabilities) => new(Labels, probabilities, 64, 48, 1, new StageTimings(1, 4, 0.5));
}
