using DogsVsCats.Vision.Realtime.Inference;
using DogsVsCats.Vision.Realtime.Live;
using OpenCvSharp;

namespace DogsVsCats.Vision.Tests.Realtime;

public sealed class SmoothComponentTests
{
    private static readonly string[] Labels = ["cat", "dog"];

    [Fact]
    public void Update_FlipBetweenFrames_MovesByTheNewestFramesWeight()
    {
        var smooth = new SmoothComponent(weight: 0.3, minConfidence: 0.6);
        using var context = new FrameContext(30, Labels.Length);

        Pass(smooth, context, [1f, 0f]);
        Assert.Equal("cat", context.Label);
        Pass(smooth, context, [0f, 1f]);

        // 0.3 * new + 0.7 * old: one contrary frame does not flip the label.
        Assert.Equal(0.7f, context.Smoothed[0], 5);
        Assert.Equal(0.3f, context.Smoothed[1], 5);
        Assert.Equal("cat", context.Label);
        Assert.True(context.LatencyMs >= 0);
    }

    [Fact]
    public void Update_BelowMinConfidence_LabelIsUncertain()
    {
        var smooth = new SmoothComponent(weight: 1, minConfidence: 0.6);
        using var context = new FrameContext(30, Labels.Length);

        Pass(smooth, context, [0.55f, 0.45f]);

        Assert.Equal(Prediction.Uncertain, context.Label);
        Assert.Equal(0.55f, context.Confidence, 5);
    }

    private static void Pass(SmoothComponent smooth, FrameContext context, float[] probabilities)
    {
        using var frame = new Frame(new Mat(), 0);
        context.Frame = frame;
        context.Prediction = new Prediction(Labels, probabilities, 1, 1, 1, default);
        smooth.Update(context);
    }
}
