using DogsVsCats.Vision.Realtime.Hosting;
using DogsVsCats.Vision.Realtime.Inference;
using DogsVsCats.Vision.Shared;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace DogsVsCats.Vision.Realtime.Serving;

/// <summary>
/// Loads the model after the server has started listening, so /v2/health/live answers from the first moment while
/// /v2/health/ready waits for the load and a warm-up of the powers of two up to --max-batch (each other batch size
/// makes its buffers on first use: batches run at their own size). Readiness ends when
/// the host starts stopping: the drain answers what is queued while new requests get 503.
/// </summary>
internal sealed class ModelHost(
    ClassifierOptions classifierOptions,
    ServeOptions options,
    ServeMetrics metrics,
    RunOutcome outcome,
    IHostApplicationLifetime lifetime,
    IServer server,
    ILogger<ModelHost> logger,
    ILogger<Classifier> classifierLogger) : BackgroundService
{
    private readonly TaskCompletionSource loaded = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile InferenceBatcher? batcher;
    private Classifier? classifier;
    private volatile bool draining;

    /// <summary>The loaded and warmed-up classifier (for its description and labels); null until then.</summary>
    public Classifier? Classifier => batcher is null ? null : classifier;

    /// <summary>The batcher while the model is ready and the server not draining; null otherwise (answer 503).</summary>
    public InferenceBatcher? Batcher => draining ? null : batcher;

    public bool Ready => Batcher is not null;

    public bool Draining => draining;

    /// <summary>Completes once the model is loaded and warmed up; canceled when it failed to load or the app stops first.</summary>
    public Task Loaded => loaded.Task;

    public override void Dispose()
    {
        // The host disposes services after the server has answered its last request: the queue is empty by then or is
        // answered here, and only then does the classifier go.
        batcher?.Dispose();
        classifier?.Dispose();
        base.Dispose();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        lifetime.ApplicationStopping.Register(() =>
        {
            draining = true;
            loaded.TrySetCanceled(CancellationToken.None);
            metrics.ModelReady.Set(0);
            logger.LogInformation("Stopping: not ready, no new requests; answering those already taken (up to {Seconds} s).", options.DrainSeconds);
        });
        // Off the start-up path: the host goes on to start Kestrel while the model loads.
        await Task.Yield();
        try
        {
            classifier = await Task.Run(() => new Classifier(classifierOptions.Model, classifierOptions.Device, classifierOptions.Threads, classifierLogger, CpuInt8.HasDotProduct, exactBatches: true), stoppingToken);
            await Task.Run(() => WarmUp(classifier, options.MaxBatch), stoppingToken);
        }
        catch (Exception e) when (HostSetup.IsStartFailure(e))
        {
            logger.LogError("{Message}", e.Message);
            outcome.ExitCode = ExitCodes.BadInput;
            loaded.TrySetCanceled(CancellationToken.None);
            lifetime.StopApplication();
            return;
        }
        catch (OperationCanceledException)
        {
            loaded.TrySetCanceled(CancellationToken.None);
            return;
        }

        batcher = new InferenceBatcher(classifier, metrics, options.MaxBatch, options.MaxQueue, options.MaxQueueDelayMs);
        metrics.ModelReady.Set(draining ? 0 : 1);
        loaded.TrySetResult();
        var description = classifier.Description;
        logger.LogInformation(
            "Model '{Name}': {Labels} at {Width}x{Height}, on {Device}; batches of up to {MaxBatch}, queue of {MaxQueue}.",
            options.ModelName, string.Join(", ", classifier.Labels), description.InputWidth, description.InputHeight, classifier.Device, options.MaxBatch, options.MaxQueue);
        // The addresses Kestrel bound, known once the host has started: --urls http://127.0.0.1:0 names the port it got.
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using (lifetime.ApplicationStarted.Register(() => started.TrySetResult()))
        {
            try
            {
                await started.Task.WaitAsync(stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }

        foreach (var url in server.Features.GetRequiredFeature<IServerAddressesFeature>().Addresses)
        {
            logger.LogInformation("Ready: open {Url}/ in a browser; the API is at {Url}/v2/models/{Name}.", url.TrimEnd('/'), url.TrimEnd('/'), options.ModelName);
        }
    }

    /// <summary>
    /// Runs each power-of-two batch size up to <paramref name="maxBatch"/> once: the runner reuses the smallest batch
    /// already made, so a request never pads past twice its size, and no request pays for ONNX Runtime's first run
    /// of a shape.
    /// </summary>
    private static void WarmUp(Classifier classifier, int maxBatch)
    {
        for (var size = 1; ; size = Math.Min(size * 2, maxBatch))
        {
            classifier.Input(size).Clear();
            classifier.RunInput();
            if (size == maxBatch)
            {
                break;
            }
        }
    }
}
