using System.Collections.Concurrent;
using DogsVsCats.Vision.Shared;

namespace DogsVsCats.Vision.Trainer.Data;

/// <summary>
/// The photos of one batch of a pass, decoded: those of its part of the order that could be read, pixels back to back
/// (each Height*Width*3 bytes, BGR, HWC). Valid until the next batch of the pass is requested: its buffer is reused.
/// </summary>
internal sealed class DecodedBatch(int[] indices, byte[] pixels, int attempted)
{
    /// <summary>Indices into the set of the photos decoded, in order.</summary>
    public int[] Indices { get; } = indices;

    /// <summary>Count * Height * Width * 3 bytes are the batch; the buffer may be longer.</summary>
    public byte[] Pixels { get; } = pixels;

    public int Count => Indices.Length;

    /// <summary>Photos of the order this batch covered, the unreadable ones included.</summary>
    public int Attempted { get; } = attempted;
}

/// <summary>
/// Decodes a pass over a set's photos ahead of its consumer on a fixed set of threads, at most
/// <see cref="Prefetch"/> batches at a time, so memory depends on the batch size and not on the number of photos.
/// The threads are <see cref="WorkerThreads"/>, which says why they are fixed.
/// A photo that cannot be read when its turn comes (deleted, cut short since the check) is recorded in the set's
/// <see cref="ImageSet.Skipped"/> and left out of its batch.
/// </summary>
internal sealed class PrefetchDecoder : IDisposable
{
    private readonly WorkerThreads threads;
    private readonly ConcurrentBag<byte[]> buffers = [];
    private int held;
    private int maxHeld;
    private long decoded;

    /// <param name="threads">Decoding threads; 0 or less = all cores.</param>
    /// <param name="prefetch">Batches decoded or being decoded at once, the one the consumer holds included; 0 or less = twice the threads.</param>
    public PrefetchDecoder(int threads = 0, int prefetch = 0)
    {
        var count = threads <= 0 ? Environment.ProcessorCount : threads;
        Prefetch = prefetch <= 0 ? 2 * count : prefetch;
        this.threads = new WorkerThreads(count, "decode");
    }

    public int Threads => threads.Count;

    public int Prefetch { get; }

    /// <summary>The most batches held at once so far (scheduled and not yet released by the consumer).</summary>
    public int MaxHeld => Volatile.Read(ref maxHeld);

    /// <summary>Photos decoded so far, over every pass.</summary>
    public long Decoded => Interlocked.Read(ref decoded);

    /// <summary>
    /// The batches of one pass over <paramref name="order"/> (indices into <paramref name="set"/>), in that order,
    /// <paramref name="batchSize"/> photos of the order each (fewer where one could not be read).
    /// </summary>
    public IEnumerable<DecodedBatch> Read(ImageSet set, IReadOnlyList<int> order, int batchSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        return ReadIterator(set, order, batchSize);
    }

    private IEnumerable<DecodedBatch> ReadIterator(ImageSet set, IReadOnlyList<int> order, int batchSize)
    {
        var batchCount = (order.Count + batchSize - 1) / batchSize;
        var scheduled = new Queue<Task<DecodedBatch>>();
        var stopped = new StopFlag();
        var next = 0;
        void ScheduleUpTo(int limit)
        {
            for (; next < Math.Min(limit, batchCount); next++)
            {
                scheduled.Enqueue(Schedule(set, order, next * batchSize, Math.Min(batchSize, order.Count - (next * batchSize)), stopped));
            }
        }

        try
        {
            ScheduleUpTo(Prefetch);
            for (var b = 0; b < batchCount; b++)
            {
                var batch = scheduled.Dequeue().GetAwaiter().GetResult();
                try
                {
                    yield return batch;
                }
                finally
                {
                    Release(batch);
                }

                ScheduleUpTo(b + 1 + Prefetch);
            }
        }
        finally
        {
            // The consumer stopped early (an exception, a break): batches still queued finish at once, undecoded.
            stopped.Value = true;
            while (scheduled.Count > 0)
            {
                var pending = scheduled.Dequeue();
                Task.WhenAny(pending).Wait();
                if (pending.IsCompletedSuccessfully)
                {
                    Release(pending.Result);
                }
            }
        }
    }

    private Task<DecodedBatch> Schedule(ImageSet set, IReadOnlyList<int> order, int start, int count, StopFlag stopped)
    {
        var nowHeld = Interlocked.Increment(ref held);
        int seen;
        while (nowHeld > (seen = Volatile.Read(ref maxHeld)) && Interlocked.CompareExchange(ref maxHeld, nowHeld, seen) != seen)
        {
        }

        var plane = set.Width * set.Height * 3;
        return threads.Run(() =>
        {
            if (!buffers.TryTake(out var pixels) || pixels.Length < count * plane)
            {
                pixels = new byte[count * plane];
            }

            var kept = new List<int>(count);
            for (var i = 0; i < count && !stopped.Value; i++)
            {
                var index = order[start + i];
                if (ImageLoader.TryDecode(set.Paths[index], set.Width, set.Height, pixels, kept.Count * plane, out var reason))
                {
                    kept.Add(index);
                    Interlocked.Increment(ref decoded);
                }
                else
                {
                    set.Skipped.Add(new SkippedFile(set.Paths[index], reason));
                }
            }

            return new DecodedBatch([.. kept], pixels, count);
        });
    }

    private void Release(DecodedBatch batch)
    {
        buffers.Add(batch.Pixels);
        Interlocked.Decrement(ref held);
    }

    public void Dispose() => threads.Dispose();

    private sealed class StopFlag
    {
        public volatile bool Value;
    }
}
