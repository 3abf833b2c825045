using System.Runtime.CompilerServices;
using DogsVsCats.Vision.Realtime.Inference;
using DogsVsCats.Vision.Realtime.Live;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenCvSharp;

namespace DogsVsCats.Vision.Realtime.Serving;

/// <summary>
/// serve --source: one more output of the live frame loop, beside the window, --record and --jsonl. Each pass's
/// annotated frame (JPEG) and prediction (a --jsonl line) become the newest value that the page's MJPEG and
/// Server-Sent Events readers take; a slow reader skips to the newest, nothing queues. Nothing is encoded while
/// nobody watches.
/// </summary>
internal sealed class LiveFeed : IFrameOutput
{
    private const int JpegQuality = 80;

    public NewestValue<byte[]> Frames { get; } = new();

    public NewestValue<string> Predictions { get; } = new();

    /// <summary>Registers the live loop with this feed as one of its outputs.</summary>
    public static void AddTo(IServiceCollection services, LiveOptions live, ClassifierOptions classifier)
    {
        // The loop gets a Classifier of its own instead of a place in the batcher's queue. A Classifier is not
        // thread-safe and the batcher's thread owns the served one; the loop classifies one frame at a time, in step
        // with its source, and reads the top class's activation map back at once. Through the batcher its frames
        // would take queue places promised to API clients (503 when full) and Live would have to know Serving. The
        // price: a second ONNX Runtime session (the weights twice in memory) sharing the cores with the batcher.
        // It loads once the served model has: a broken model is reported once, by the model host, and the two loads do
        // not compete for the cores while the server comes up. The loop then goes on however its source ends: the
        // server's API does not depend on it.
        services.AddSingleton(s => new Classifier(classifier.Model, classifier.Device, classifier.Threads, s.GetRequiredService<ILogger<Classifier>>()));
        services.AddSingleton<LiveFeed>();
        services.AddSingleton<IFrameOutput>(s => s.GetRequiredService<LiveFeed>());
        services.AddLiveLoop(live, s => new LiveLoopRole(
            () =>
            {
                s.GetRequiredService<ModelHost>().Loaded.GetAwaiter().GetResult();
                return s.GetRequiredService<Classifier>();
            },
            EndsApp: false));
    }

    /// <summary>The loop has ended: readers get what was published, then their streams end.</summary>
    public void End()
    {
        Frames.Complete();
        Predictions.Complete();
    }

    public void Write(FramePass pass)
    {
        if (Predictions.Watched && pass.Result is { } result)
        {
            Predictions.Publish((PredictionLine.Of(result.Label, result.Raw, result.Smoothed) with
            {
                Frame = pass.Frame.Index,
                LatencyMs = result.LatencyMs,
                Fps = pass.Stats.Fps,
                Dropped = pass.Stats.Dropped,
            }).ToJson());
        }

        if (Frames.Watched)
        {
            // The display Mat belongs to the loop and is redrawn next pass: the JPEG is a copy the readers may keep.
            Cv2.ImEncode(".jpg", pass.Display, out var jpeg, new ImageEncodingParam(ImwriteFlags.JpegQuality, JpegQuality));
            Frames.Publish(jpeg);
        }
    }
}

/// <summary>
/// The newest of a stream of values, for any number of readers: each reader gets the values published after it
/// started, skipping any that came while it was busy. Only one value is held, however slow a reader.
/// </summary>
internal sealed class NewestValue<T>
    where T : class
{
    private readonly object gate = new();
    private TaskCompletionSource next = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private T? value;
    private long version;
    private int readers;
    private bool completed;

    /// <summary>Whether anyone reads: the producer need not make values nobody takes.</summary>
    public bool Watched => Volatile.Read(ref readers) > 0;

    public void Publish(T item)
    {
        TaskCompletionSource published;
        lock (gate)
        {
            (value, published, next) = (item, next, new(TaskCreationOptions.RunContinuationsAsynchronously));
            version++;
        }

        published.TrySetResult();
    }

    /// <summary>No value follows: each reader ends after the newest value it has not read.</summary>
    public void Complete()
    {
        TaskCompletionSource published;
        lock (gate)
        {
            (completed, published) = (true, next);
        }

        published.TrySetResult();
    }

    /// <summary>
    /// The values published from now on, newest first whenever the reader fell behind, until <see cref="Complete"/> or
    /// <paramref name="cancel"/>.
    /// </summary>
    public async IAsyncEnumerable<T> ReadAllAsync([EnumeratorCancellation] CancellationToken cancel)
    {
        Interlocked.Increment(ref readers);
        try
        {
            long seen;
            lock (gate)
            {
                seen = version;
            }

            while (true)
            {
                T? item = null;
                Task published;
                bool ended;
                lock (gate)
                {
                    if (version > seen)
                    {
                        (item, seen) = (value, version);
                    }

                    (published, ended) = (next.Task, completed);
                }

                if (item is not null)
                {
                    yield return item;
                    continue;
                }

                if (ended)
                {
                    yield break;
                }

                await published.WaitAsync(cancel);
            }
        }
        finally
        {
            Interlocked.Decrement(ref readers);
        }
    }
}
