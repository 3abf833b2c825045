using System.Collections.Concurrent;
using System.Runtime.ExceptionServices;

namespace DogsVsCats.Vision.Shared;

/// <summary>
/// A fixed set of threads that run queued work until disposed: every decoding pass of both programs runs here, not on
/// the .NET thread pool, because glibc's malloc keeps freed blocks in an arena per allocating thread and the pool's
/// changing threads made a long pass's working set creep (measured with bench label: docs/benchmarks.md, "Decoding on
/// fixed threads"). Fixed threads fill one arena each, once.
/// </summary>
public sealed class WorkerThreads : IDisposable
{
    private readonly BlockingCollection<Action> work = [];
    private readonly Thread[] threads;

    /// <param name="count">Threads, at least 1.</param>
    /// <param name="name">Thread name prefix, e.g. "decode" for "decode 1", "decode 2", ...</param>
    public WorkerThreads(int count, string name)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        threads = new Thread[count];
        for (var i = 0; i < count; i++)
        {
            threads[i] = new Thread(Work) { IsBackground = true, Name = $"{name} {i + 1}" };
            threads[i].Start();
        }
    }

    public int Count => threads.Length;

    /// <summary>The threads' managed ids (for tests).</summary>
    public IReadOnlyList<int> ThreadIds => threads.Select(t => t.ManagedThreadId).ToArray();

    /// <summary>Queues <paramref name="item"/> for the next free thread; it must handle its own exceptions.</summary>
    public void Post(Action item) => work.Add(item);

    /// <summary>Queues <paramref name="item"/>; the task ends with its result, or with the exception it threw.</summary>
    public Task<T> Run<T>(Func<T> item)
    {
        ArgumentNullException.ThrowIfNull(item);
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        Post(() =>
        {
            try
            {
                done.SetResult(item());
            }
            catch (Exception e)
            {
                done.SetException(e);
            }
        });
        return done.Task;
    }

    /// <summary>Runs <paramref name="body"/> for 0 .. count - 1 on these threads and waits; the first exception is rethrown as it was.</summary>
    public void For(int count, Action<int> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        using var done = new CountdownEvent(count);
        var errors = new ConcurrentQueue<ExceptionDispatchInfo>();
        for (var i = 0; i < count; i++)
        {
            var index = i;
            Post(() =>
            {
                try
                {
                    body(index);
                }
                catch (Exception e)
                {
                    errors.Enqueue(ExceptionDispatchInfo.Capture(e));
                }
                finally
                {
                    done.Signal();
                }
            });
        }

        done.Wait();
        if (errors.TryPeek(out var first))
        {
            first.Throw();
        }
    }

    /// <summary>Runs what is queued, then stops the threads.</summary>
    public void Dispose()
    {
        work.CompleteAdding();
        foreach (var thread in threads)
        {
            thread.Join();
        }

        work.Dispose();
    }

    private void Work()
    {
        foreach (var item in work.GetConsumingEnumerable())
        {
            item();
        }
    }
}
