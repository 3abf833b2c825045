using DogsVsCats.Vision.Realtime.Live;
using OpenCvSharp;

namespace DogsVsCats.Vision.Tests.Realtime;

[Trait("Category", "Fast")]
public sealed class FrameChannelTests
{
    [Fact]
    public void Live_WrittenFasterThanRead_KeepsOnlyTheNewestAndDisposesAndCountsTheRest()
    {
        var channel = new FrameChannel(live: true);
        var frames = Enumerable.Range(0, 3).Select(i => new Frame(new Mat(2, 2, MatType.CV_8UC3), i)).ToArray();
        try
        {
            Assert.All(frames, f => Assert.True(channel.Channel.Writer.TryWrite(f)));

            Assert.True(channel.Channel.Reader.TryRead(out var newest));
            using (newest)
            {
                Assert.Same(frames[2], newest);
                Assert.False(channel.Channel.Reader.TryRead(out _));
                Assert.Equal(2, channel.Dropped);
                Assert.True(frames[0].Image.IsDisposed && frames[1].Image.IsDisposed);
                Assert.False(frames[2].Image.IsDisposed);
            }
        }
        finally
        {
            Array.ForEach(frames, f => f.Dispose());
        }
    }

    [Fact]
    public void File_Full_WriterWaitsAndNothingIsDropped()
    {
        var channel = new FrameChannel(live: false);
        var frames = Enumerable.Range(0, 3).Select(i => new Frame(new Mat(2, 2, MatType.CV_8UC3), i)).ToArray();
        try
        {
            Assert.True(channel.Channel.Writer.TryWrite(frames[0]));
            Assert.True(channel.Channel.Writer.TryWrite(frames[1]));

            Assert.False(channel.Channel.Writer.TryWrite(frames[2]));   // full: capture must wait for the loop
            Assert.Equal(0, channel.Dropped);
            Assert.True(channel.Channel.Reader.TryRead(out var first));
            using (first)
            {
                Assert.Same(frames[0], first);
                Assert.True(channel.Channel.Writer.TryWrite(frames[2]));
                Assert.All(frames, f => Assert.False(f.Image.IsDisposed));
            }
        }
        finally
        {
            Array.ForEach(frames, f => f.Dispose());
        }
    }

    [Fact]
    public void DisposeRemaining_FramesNeverRead_AreDisposed()
    {
        var channel = new FrameChannel(live: false);
        var frames = Enumerable.Range(0, 2).Select(i => new Frame(new Mat(2, 2, MatType.CV_8UC3), i)).ToArray();
        try
        {
            Assert.All(frames, f => Assert.True(channel.Channel.Writer.TryWrite(f)));

            channel.DisposeRemaining();

            Assert.All(frames, f => Assert.True(f.Image.IsDisposed));
            Assert.False(channel.Channel.Reader.TryRead(out _));
        }
        finally
        {
            Array.ForEach(frames, f => f.Dispose());
        }
    }
}
