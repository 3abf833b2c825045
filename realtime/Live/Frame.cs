using System.Diagnostics;
using OpenCvSharp;

namespace DogsVsCats.Vision.Realtime.Live;

/// <summary>One captured image and when it was read (Stopwatch ticks), so latency is measured from capture to label.</summary>
public sealed class Frame(Mat image, long index) : IDisposable
{
    public Mat Image { get; } = image;

    public long Index { get; } = index;

    public long CapturedAt { get; } = Stopwatch.GetTimestamp();

    public void Dispose() => Image.Dispose();
}
