using System.Diagnostics;
using DogsVsCats.Vision.Realtime.Inference;

namespace DogsVsCats.Vision.Realtime.Serving;

/// <summary>What one request's images gave: probabilities per image and, when asked for, the activation maps.</summary>
/// <param name="Cam">[N, classes, h, w] when the request asked for it, else null.</param>
internal sealed record JobResult(float[][] Probabilities, float[]? Cam, int BatchSize, double QueueMs, double InferenceMs);

/// <summary>
/// One request's images, already at the model's size (uint8 [N, H, W, 3] BGR), waiting for inference. The pixels
/// belong to the request, which keeps them alive until <see cref="Completion"/> ends.
/// </summary>
internal sealed class InferenceJob(ReadOnlyMemory<byte> pixels, int count, bool wantCam)
{
    private readonly TaskCompletionSource<JobResult> done = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public ReadOnlyMemory<byte> Pixels { get; } = pixels;

    public int Count { get; } = count;

    public bool WantCam { get; } = wantCam;

    public long EnqueuedAt { get; set; }

    public Task<JobResult> Completion => done.Task;

    public void Complete(JobResult result) => done.TrySetResult(result);

    public void Fail(Exception error) => done.TrySetException(error);
}

/// <summary>
/// Dynamic batching: requests that arrive together run as one ONNX Runtime batch on one thread that owns the
/// classifier. A batch closes when it is full (<c>--max-batch</c> images), when its oldest request has waited
/// <c>--max-queue-delay-ms</c>, or as soon as no other request is still being read or decoded: a lone request
/// therefore runs at once instead of waiting out the delay, which is how concurrency 1 keeps batch-1 latency.
/// A request's images stay together in one batch, and each request reads back only its own slots. The queue is
/// bounded (<c>--max-queue</c> requests): beyond it <see cref="TryEnqueue"/> refuses at once, so the caller answers
/// 503 instead of letting latency grow without end. <see cref="Dispose"/> answers everything queued, then stops.
/// </summary>
internal sealed class InferenceBatcher : IDisposable
{
    private readonly Classifier classifier;
    private readonly ServeMetrics metrics;
    private readonly int maxBatch;
    private readonly int maxQueue;
    private readonly long maxDelayTicks;
    private readonly Queue<InferenceJob> queue = new();
    private readonly object gate = new();
    private readonly Thread thread;
    private int arriving;
    private bool closed;

    public InferenceBatcher(Classifier classifier, ServeMetrics metrics, int maxBatch, int maxQueue, double maxQueueDelayMs)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxBatch);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxQueue);
        (this.classifier, this.metrics, this.maxBatch, this.maxQueue) = (classifier, metrics, maxBatch, maxQueue);
        maxDelayTicks = (long)(maxQueueDelayMs * Stopwatch.Frequency / 1000);
        thread = new Thread(Loop) { IsBackground = true, Name = "inference batcher" };
        thread.Start();
    }

    public int MaxBatch => maxBatch;

    /// <summary>
    /// Marks a request as on its way (being read or decoded) until the returned scope is disposed: while one is, a
    /// batch may wait up to the delay for it.
    /// </summary>
    public ArrivalScope Arriving()
    {
        Interlocked.Increment(ref arriving);
        return new ArrivalScope(this);
    }

    /// <summary>Queues a job; false when the queue is full or the server is shutting down (answer 503).</summary>
    /// <param name="arrival">The request's <see cref="Arriving"/> scope: once queued it no longer counts as on its way,
    /// in the same step, so that a batch that waits for it wakes once rather than twice.</param>
    public bool TryEnqueue(InferenceJob job, ArrivalScope arrival)
    {
        if (job.Count > maxBatch)
        {
            throw new ArgumentException($"A job of {job.Count} images is larger than the batch ({maxBatch}).", nameof(job));
        }

        lock (gate)
        {
            if (closed || queue.Count >= maxQueue)
            {
                return false;
            }

            job.EnqueuedAt = Stopwatch.GetTimestamp();
            queue.Enqueue(job);
            arrival.Queued();
            metrics.QueueDepth.Set(queue.Count);
            Monitor.PulseAll(gate);
            return true;
        }
    }

    /// <summary>Answers every queued job, then stops the thread.</summary>
    public void Dispose()
    {
        lock (gate)
        {
            closed = true;
            Monitor.PulseAll(gate);
        }

        thread.Join();
    }

    private void Left()
    {
        if (Interlocked.Decrement(ref arriving) == 0)
        {
            lock (gate)
            {
                Monitor.PulseAll(gate);
            }
        }
    }

    private void Loop()
    {
        var batch = new List<InferenceJob>(maxBatch);
        while (Take(batch) is var total and > 0)
        {
            Run(batch, total);
            batch.Clear();
        }
    }

    /// <summary>Fills <paramref name="batch"/> by the rule above; 0 once closed and empty.</summary>
    private int Take(List<InferenceJob> batch)
    {
        lock (gate)
        {
            while (queue.Count == 0)
            {
                if (closed)
                {
                    return 0;
                }

                Monitor.Wait(gate);
            }

            var first = queue.Dequeue();
            batch.Add(first);
            var total = first.Count;
            var deadline = first.EnqueuedAt + maxDelayTicks;
            while (total < maxBatch)
            {
                if (queue.TryPeek(out var next))
                {
                    if (total + next.Count > maxBatch)
                    {
                        break;
                    }

                    batch.Add(queue.Dequeue());
                    total += next.Count;
                    continue;
                }

                var left = deadline - Stopwatch.GetTimestamp();
                if (closed || Volatile.Read(ref arriving) == 0 || left <= 0)
                {
                    break;
                }

                Monitor.Wait(gate, TimeSpan.FromSeconds((double)left / Stopwatch.Frequency));
            }

            metrics.QueueDepth.Set(queue.Count);
            return total;
        }
    }

    private void Run(List<InferenceJob> batch, int total)
    {
        var start = Stopwatch.GetTimestamp();
        try
        {
            var input = classifier.Input(total);
            var offset = 0;
            foreach (var job in batch)
            {
                job.Pixels.Span.CopyTo(input[offset..]);
                offset += job.Pixels.Length;
                metrics.QueueWait.Observe(Stopwatch.GetElapsedTime(job.EnqueuedAt, start).TotalSeconds);
            }

            var run = Stopwatch.GetTimestamp();
            classifier.RunInput();
            var inferenceMs = Stopwatch.GetElapsedTime(run).TotalMilliseconds;
            metrics.InferenceDuration.Observe(inferenceMs / 1000);
            metrics.BatchSize.Observe(total);
            metrics.ExecutionCount.Inc();
            metrics.InferenceCount.Inc(total);
            var index = 0;
            foreach (var job in batch)
            {
                job.Complete(Results(job, index, total, Stopwatch.GetElapsedTime(job.EnqueuedAt, start).TotalMilliseconds, inferenceMs));
                index += job.Count;
            }
        }
#pragma warning disable CA1031 // The batcher thread must outlive any one batch: its requests get the error (500), the next batch runs.
        catch (Exception e)
#pragma warning restore CA1031
        {
            foreach (var job in batch)
            {
                job.Fail(e);
            }
        }
    }

    private JobResult Results(InferenceJob job, int first, int total, double queueMs, double inferenceMs)
    {
        var probabilities = new float[job.Count][];
        float[]? cam = null;
        for (var i = 0; i < job.Count; i++)
        {
            probabilities[i] = classifier.Probabilities(first + i);
        }

        if (job.WantCam)
        {
            var classes = classifier.Labels.Count;
            var size = classifier.CamHeight * classifier.CamWidth;
            cam = new float[job.Count * classes * size];
            for (var i = 0; i < job.Count; i++)
            {
                for (var c = 0; c < classes; c++)
                {
                    classifier.Cam(first + i, c, out _, out _).CopyTo(cam.AsSpan(((i * classes) + c) * size, size));
                }
            }
        }

        return new JobResult(probabilities, cam, total, queueMs, inferenceMs);
    }

    /// <summary>See <see cref="Arriving"/>; disposing it more than once, or after its job was queued, counts once.</summary>
    internal sealed class ArrivalScope(InferenceBatcher owner) : IDisposable
    {
        private int left;

        /// <summary>Called by <see cref="TryEnqueue"/> under the batcher's lock, which pulses the batch itself.</summary>
        public void Queued()
        {
            if (Leave())
            {
                Interlocked.Decrement(ref owner.arriving);
            }
        }

        public void Dispose()
        {
            if (Leave())
            {
                owner.Left();
            }
        }

        /// <summary>True the first time only: the scope counts once however it ends.</summary>
        private bool Leave() => Interlocked.Exchange(ref left, 1) == 0;
    }
}
