using System.Diagnostics;
using DogsVsCats.Vision.Realtime.Inference;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace DogsVsCats.Vision.Realtime.Live;

/// <summary>
/// The update loop of a game engine, without the engine: take the newest frame, run every component in order
/// (classify, smooth, draw, outputs), cap the rate at --target-fps, repeat until the source ends, the viewer quits or
/// --duration passes. It runs on one dedicated thread, which OpenCV's window functions need.
/// </summary>
public sealed class FrameLoopService(
    IOptions<RealtimeOptions> options,
    Classifier classifier,
    FrameChannel channel,
    CaptureService capture,
    RunOutcome outcome,
    IHostApplicationLifetime lifetime,
    ILogger<FrameLoopService> logger) : BackgroundService
{
    private const int LatencyWindow = 1024;
    private readonly RealtimeOptions settings = options.Value;

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.Factory.StartNew(() => Run(stoppingToken), stoppingToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    private void Run(CancellationToken stop)
    {
        var components = new List<IFrameComponent>();
        using var context = new FrameContext(settings.TargetFps, classifier.Labels.Count) { ShowHeatmap = settings.Heatmap };
        try
        {
            components.AddRange(Components());
            Loop(components, context, stop);
        }
        catch (Exception e) when (e is IOException or OpenCvSharp.OpenCVException or InvalidOperationException)
        {
            logger.LogError("{Message}", e.Message);
            outcome.ExitCode = 1;
        }
        finally
        {
            foreach (var component in components.OfType<IDisposable>())
            {
                component.Dispose();
            }

            channel.DisposeRemaining();
            lifetime.StopApplication();
        }
    }

    private IEnumerable<IFrameComponent> Components()
    {
        yield return new ClassifyComponent(classifier);
        yield return new SmoothComponent(settings.Smoothing, settings.MinConfidence);
        yield return new DrawComponent(classifier);
        if (settings.Record is { Length: > 0 } record)
        {
            yield return new RecordComponent(record, capture.SourceFps > 0 ? capture.SourceFps : settings.TargetFps, logger);
        }

        if (settings.Jsonl is { Length: > 0 } jsonl)
        {
            yield return new JsonlComponent(jsonl);
        }

        yield return settings.NoWindow ? new LogComponent(logger) : new WindowComponent();
        yield return new SnapshotComponent(settings.SnapshotDir, settings.SnapshotAt, logger);
    }

    private void Loop(List<IFrameComponent> components, FrameContext context, CancellationToken stop)
    {
        var reader = channel.Channel.Reader;
        var period = TimeSpan.FromSeconds(1 / settings.TargetFps);
        var latencies = new double[LatencyWindow];   // the newest latencies, a ring: memory stays flat however long the run
        var clock = Stopwatch.StartNew();
        var previous = clock.Elapsed;
        logger.LogInformation("Live: {Labels} on {Device}, up to {Fps:0.#} fps{Window}.", string.Join(", ", classifier.Labels), classifier.Device, settings.TargetFps, settings.NoWindow ? ", no window" : "");
        while (!stop.IsCancellationRequested && !context.QuitRequested && (settings.Duration <= 0 || clock.Elapsed.TotalSeconds < settings.Duration))
        {
            if (!reader.TryRead(out var frame))
            {
                if (!reader.WaitToReadAsync(stop).AsTask().GetAwaiter().GetResult())
                {
                    break;   // the source ended
                }

                continue;
            }

            using (frame)
            {
                var start = clock.Elapsed;
                context.DeltaTime = (start - previous).TotalSeconds;
                context.Fps = context.Processed == 0 ? 0 : (0.9 * context.Fps) + (0.1 / Math.Max(context.DeltaTime, 1e-6));
                previous = start;
                context.Frame = frame;
                context.Dropped = channel.Dropped;
                foreach (var component in components)
                {
                    component.Update(context);
                }

                if (context.Prediction is not null)
                {
                    latencies[context.Processed % LatencyWindow] = context.LatencyMs;
                }

                context.Processed++;
                var rest = period - (clock.Elapsed - start);
                if (rest > TimeSpan.Zero)
                {
                    stop.WaitHandle.WaitOne(rest);   // the frame cap; a live source drops what arrives meanwhile
                }
            }
        }

        var seen = latencies.Take((int)Math.Min(context.Processed, LatencyWindow)).Order().ToArray();
        logger.LogInformation(
            "Live summary: {Frames} frames in {Seconds:0.0} s ({Fps:0.0} fps), {Dropped} dropped; capture-to-label latency median {Median:0} ms, p95 {P95:0} ms.",
            context.Processed,
            clock.Elapsed.TotalSeconds,
            context.Processed / Math.Max(clock.Elapsed.TotalSeconds, 1e-9),
            channel.Dropped,
            seen.Length == 0 ? 0 : seen[seen.Length / 2],
            seen.Length == 0 ? 0 : seen[(int)(seen.Length * 0.95)]);
    }
}
