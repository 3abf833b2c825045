using System.Diagnostics;
using OpenCvSharp;

namespace DogsVsCats.Vision.Realtime.Live;

/// <summary>
/// One captured image, when it was read (Stopwatch ticks, so latency is measured from capture to label) and the frame
/// rate its source reports (0 when it says none), which travels with the frames so no output asks the source.
/// </summary>
internal sealed class Frame(Mat image, long index, double sourceFps = 0) : IDisposable
{
    public Mat Image { get; } = image;

    public long Index { get; } = index;

    public long CapturedAt { get; } = Stopwatch.GetTimestamp();

    public double SourceFps { get; } = sourceFps;

    public void Dispose() => Image.Dispose();
}
