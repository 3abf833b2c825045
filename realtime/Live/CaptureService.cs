using System.Diagnostics;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenCvSharp;

namespace DogsVsCats.Vision.Realtime.Live;

/// <summary>
/// Reads frames on its own thread into the <see cref="FrameChannel"/>. The source is opened in StartAsync so a missing
/// camera stops the app at once with a clear message. A video file ends the stream at its end (or restarts with
/// --loop); a camera or stream that stops delivering is reopened with growing back-off.
/// </summary>
internal sealed class CaptureService(IOptions<LiveOptions> options, FrameChannel channel, ILogger<CaptureService> logger) : BackgroundService
{
    private static readonly TimeSpan InitialBackoff = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(30);
    private readonly LiveOptions settings = options.Value;
    private readonly LiveSource source = new(options.Value.Source);
    private VideoCapture? capture;

    /// <summary>Frames per second the source reports (0 when it does not say); each frame carries it.</summary>
    private double sourceFps;

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        capture = source.Open();
        if (!capture.IsOpened())
        {
            capture.Dispose();
            capture = null;
            throw new InvalidOperationException(source.CannotOpen());
        }

        sourceFps = capture.Fps;
        logger.LogInformation("Source: {Source} ({Kind}, {Width}x{Height}, {Fps:0.#} fps{Pacing}).", settings.Source, source.IsVideoFile ? "video file" : source.CameraIndex is null ? "stream" : "camera", capture.FrameWidth, capture.FrameHeight, sourceFps, channel.Live && source.IsVideoFile ? ", played in real time" : "");
        return base.StartAsync(cancellationToken);
    }

    public override void Dispose()
    {
        capture?.Dispose();
        base.Dispose();
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.Factory.StartNew(() => Capture(stoppingToken), stoppingToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    private void Capture(CancellationToken stop)
    {
        var writer = channel.Channel.Writer;
        var pacing = channel.Live && source.IsVideoFile && sourceFps > 0;
        var clock = Stopwatch.StartNew();
        var backoff = InitialBackoff;
        long index = 0, paced = 0;
        try
        {
            while (!stop.IsCancellationRequested)
            {
                // Each Mat is owned by exactly one holder at a time: this loop, then the frame, then the channel (which
                // disposes what it drops) or the frame loop. Whatever this pass still owns when it leaves is disposed.
                Mat? image = new();
                Frame? frame = null;
                try
                {
                    if (!capture!.Read(image) || image.Empty())
                    {
                        if (source.IsVideoFile && settings.Loop && index > 0)
                        {
                            // index > 0: a video that yields no frame at all would otherwise be rewound forever.
                            capture.Set(VideoCaptureProperties.PosFrames, 0);
                            continue;
                        }

                        if (source.IsVideoFile)
                        {
                            logger.LogInformation("End of {Source} after {Frames} frames.", settings.Source, index);
                            return;
                        }

                        Reconnect(ref backoff, stop);
                        continue;
                    }

                    backoff = InitialBackoff;
                    if (pacing)
                    {
                        // A camera delivers frame n at n / fps; waiting for that moment makes a file behave like one.
                        var due = TimeSpan.FromSeconds(paced++ / sourceFps) - clock.Elapsed;
                        if (due > TimeSpan.Zero)
                        {
                            stop.WaitHandle.WaitOne(due);
                        }
                    }

                    frame = new Frame(image, index++, sourceFps);
                    image = null;
                    // Only the waiting (non-live) channel is ever full: capture waits for the loop, nothing is dropped.
                    if (!writer.TryWrite(frame) && !(writer.WaitToWriteAsync(stop).AsTask().GetAwaiter().GetResult() && writer.TryWrite(frame)))
                    {
                        return;
                    }

                    frame = null;
                }
                finally
                {
                    image?.Dispose();
                    frame?.Dispose();
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Shutting down.
        }
        finally
        {
            writer.TryComplete();
        }
    }

    /// <summary>
    /// Waits <paramref name="backoff"/>, reopens the source and doubles the wait for next time (up to 30 s); the caller
    /// resets it to 1 s once a frame arrives, so a source that opens but delivers nothing keeps backing off.
    /// </summary>
    private void Reconnect(ref TimeSpan backoff, CancellationToken stop)
    {
        var kind = source.CameraIndex is null ? "stream" : "camera";
        if (backoff == InitialBackoff)
        {
            logger.LogWarning("Lost the {Kind} {Source}: it delivers no frame. Reopening in {Seconds:0} s (waiting twice as long after each failed try, up to {Max:0} s).", kind, settings.Source, backoff.TotalSeconds, MaxBackoff.TotalSeconds);
        }
        else
        {
            logger.LogWarning("The {Kind} {Source} is still lost ({Why}); next try in {Seconds:0} s.", kind, settings.Source, capture!.IsOpened() ? "it opened but delivered no frame" : "it cannot be opened", backoff.TotalSeconds);
        }

        stop.WaitHandle.WaitOne(backoff);
        backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MaxBackoff.Ticks));
        capture!.Dispose();
        capture = source.Open();
        if (capture.IsOpened())
        {
            logger.LogInformation("Reopened the {Kind} {Source}.", kind, settings.Source);
        }
    }
}
