using System.Diagnostics;
using DogsVsCats.Vision.Realtime.Hosting;
using DogsVsCats.Vision.Realtime.Inference;
using DogsVsCats.Vision.Shared;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace DogsVsCats.Vision.Realtime.Live;

/// <summary>
/// The update loop of a game engine, without the engine: take the newest frame, apply the viewer's commands (input),
/// classify + smooth it into one <see cref="FrameResult"/>, draw, hand the pass to every output, cap the rate at
/// --target-fps, repeat until the source ends, the viewer quits or --duration passes. It runs on one dedicated thread,
/// which OpenCV's window functions need.
/// </summary>
internal sealed class FrameLoopService(
    IOptions<LiveOptions> options,
    IOptions<ClassifierOptions> classifierOptions,
    LiveLoopRole role,
    FrameChannel channel,
    IEnumerable<IFrameOutput> sinks,
    RunOutcome outcome,
    IHostApplicationLifetime lifetime,
    ILogger<FrameLoopService> logger) : BackgroundService
{
    private const int LatencyWindow = 1024;
    private readonly LiveOptions settings = options.Value;

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.Factory.StartNew(() => Run(stoppingToken), stoppingToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    private void Run(CancellationToken stop)
    {
        Classifier classifier;
        try
        {
            classifier = role.Load();
        }
        catch (OperationCanceledException)
        {
            return;   // the app stops before the model was there: nothing ran, nothing to say
        }
        catch (Exception e) when (HostSetup.IsStartFailure(e))
        {
            logger.LogError("{Message}", e.Message);
            outcome.ExitCode = ExitCodes.BadInput;
            lifetime.StopApplication();
            return;
        }

        var input = new LiveInput(settings.Heatmap);
        var outputs = new List<IFrameOutput>();
        using var renderer = new FrameRenderer(classifier.Description.InputWidth, classifier.Description.InputHeight);
        try
        {
            outputs.AddRange(Outputs(input));
            Loop(classifier, input, renderer, outputs, stop);
        }
        catch (Exception e) when (e is IOException or OpenCvSharp.OpenCVException or InvalidOperationException)
        {
            logger.LogError("{Message}", e.Message);
            if (role.EndsApp)
            {
                outcome.ExitCode = ExitCodes.Failure;
            }
        }
        finally
        {
            foreach (var output in outputs)
            {
                output.End();
            }

            // The host's sinks belong to the host; the loop disposes only the outputs it made.
            foreach (var output in outputs.Except(sinks).OfType<IDisposable>())
            {
                output.Dispose();
            }

            channel.DisposeRemaining();
            if (role.EndsApp)
            {
                lifetime.StopApplication();
            }
            else if (!stop.IsCancellationRequested)
            {
                logger.LogInformation("The live view has ended; the server goes on.");
            }
        }
    }

    private IEnumerable<IFrameOutput> Outputs(LiveInput input)
    {
        if (settings.Record is { Length: > 0 } record)
        {
            yield return new RecordOutput(record, settings.TargetFps, logger);
        }

        if (settings.Jsonl is { Length: > 0 } jsonl)
        {
            yield return new JsonlOutput(jsonl);
        }

        yield return settings.NoWindow ? new LogOutput(logger) : new WindowOutput(input);
        yield return new SnapshotOutput(settings.SnapshotDir, settings.SnapshotAt, logger);
        foreach (var sink in sinks)
        {
            yield return sink;   // registered by the host, e.g. the served page's live view
        }
    }

    private void Loop(Classifier classifier, LiveInput input, FrameRenderer renderer, List<IFrameOutput> outputs, CancellationToken stop)
    {
        var reader = channel.Channel.Reader;
        var classify = new FrameClassifier(classifier, settings.Smoothing, classifierOptions.Value.MinConfidence);
        var period = TimeSpan.FromSeconds(1 / settings.TargetFps);
        var latencies = new double[LatencyWindow];   // the newest latencies, a ring: memory stays flat however long the run
        var clock = Stopwatch.StartNew();
        var previous = clock.Elapsed;
        var (processed, fps) = (0L, 0.0);
        logger.LogInformation("Live: {Labels} on {Device}, up to {Fps:0.#} fps{Window}.", string.Join(", ", classifier.Labels), classifier.Device, settings.TargetFps, settings.NoWindow ? ", no window" : "");
        while (!stop.IsCancellationRequested && (settings.Duration <= 0 || clock.Elapsed.TotalSeconds < settings.Duration))
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
                // Input: keys pressed during the previous pass take effect now.
                var view = input.Next();
                if (view.Quit)
                {
                    break;
                }

                var start = clock.Elapsed;
                var delta = (start - previous).TotalSeconds;
                fps = processed == 0 ? 0 : (0.9 * fps) + (0.1 / Math.Max(delta, 1e-6));
                previous = start;
                var result = view.Paused ? null : classify.Classify(frame);
                var pass = new FramePass(frame, view, new LoopStats(processed, delta, fps, channel.Dropped), result, renderer.Display);
                renderer.Render(pass);
                foreach (var output in outputs)
                {
                    output.Write(pass);
                }

                if (result is not null)
                {
                    latencies[processed % LatencyWindow] = result.LatencyMs;
                }

                processed++;
                var rest = period - (clock.Elapsed - start);
                if (rest > TimeSpan.Zero)
                {
                    stop.WaitHandle.WaitOne(rest);   // the frame cap; a live source drops what arrives meanwhile
                }
            }
        }

        var seen = latencies.Take((int)Math.Min(processed, LatencyWindow)).Order().ToArray();
        logger.LogInformation(
            "Live summary: {Frames} frames in {Seconds:0.0} s ({Fps:0.0} fps), {Dropped} dropped; capture-to-label latency median {Median:0} ms, p95 {P95:0} ms.",
            processed,
            clock.Elapsed.TotalSeconds,
            processed / Math.Max(clock.Elapsed.TotalSeconds, 1e-9),
            channel.Dropped,
            seen.Length == 0 ? 0 : seen[seen.Length / 2],
            seen.Length == 0 ? 0 : seen[(int)(seen.Length * 0.95)]);
    }
}
