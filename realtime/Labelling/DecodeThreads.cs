using DogsVsCats.Vision.Shared;

namespace DogsVsCats.Vision.Realtime.Labelling;

/// <summary>
/// A fixed set of threads that decode photos for a whole folder run. glibc's malloc gives each thread that allocates
/// a heap of its own (an arena) and keeps freed blocks there for reuse. Parallel.For on the .NET thread pool decoded on
/// an ever-changing set of threads, so over a long run more and more arenas each came to hold several MiB of freed
/// photo buffers: measured with bench label, the working set rose by ~50 MiB over two passes of the same 3,000 photos
/// and was still rising in the second. Decoding always on the same threads uses one arena each, filled once.
/// </summary>
public sealed class DecodeThreads(int count) : IDisposable
{
    private readonly WorkerThreads threads = new(count, "decode");

    /// <summary>The threads' managed ids (for tests).</summary>
    public IReadOnlyList<int> ThreadIds => threads.ThreadIds;

    /// <summary>Runs <paramref name="body"/> for 0 .. count - 1 on these threads and waits; the first exception is rethrown as it was.</summary>
    public void For(int count, Action<int> body) => threads.For(count, body);

    public void Dispose() => threads.Dispose();
}
