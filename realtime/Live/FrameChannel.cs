using System.Threading.Channels;

namespace DogsVsCats.Vision.Realtime.Live;

/// <summary>
/// The hand-over from the capture thread to the frame loop. A live source keeps only the newest frame
/// (capacity 1, drop oldest): a slow loop skips frames instead of falling behind, and each dropped frame is disposed
/// and counted. A video file played without real-time pacing drops nothing: capture waits for the loop.
/// </summary>
internal sealed class FrameChannel
{
    private long dropped;

    public FrameChannel(bool live)
    {
        Live = live;
        var options = new BoundedChannelOptions(live ? 1 : 2)
        {
            FullMode = live ? BoundedChannelFullMode.DropOldest : BoundedChannelFullMode.Wait,
            SingleReader = true,
            SingleWriter = true,
        };
        Channel = System.Threading.Channels.Channel.CreateBounded<Frame>(options, frame =>
        {
            frame.Dispose();
            Interlocked.Increment(ref dropped);
        });
    }

    public bool Live { get; }

    public Channel<Frame> Channel { get; }

    public long Dropped => Interlocked.Read(ref dropped);

    /// <summary>Frames left when the loop ends are disposed, not leaked.</summary>
    public void DisposeRemaining()
    {
        while (Channel.Reader.TryRead(out var frame))
        {
            frame.Dispose();
        }
    }
}
