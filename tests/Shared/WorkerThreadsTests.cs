using System.Collections.Concurrent;
using DogsVsCats.Vision.Shared;

namespace DogsVsCats.Vision.Tests.Shared;

[Trait("Category", "Fast")]
public sealed class WorkerThreadsTests
{
    [Fact]
    public void For_ManyCalls_EveryIndexOnceAndOnlyOnTheFixedThreads()
    {
        using var decoders = new WorkerThreads(2, "decode");
        var seen = new ConcurrentDictionary<int, int>();   // thread id -> items run

        for (var call = 0; call < 5; call++)
        {
            var runs = new int[50];
            decoders.For(runs.Length, i =>
            {
                Interlocked.Increment(ref runs[i]);
                seen.AddOrUpdate(Environment.CurrentManagedThreadId, 1, (_, n) => n + 1);
                Thread.SpinWait(1000);
            });

            Assert.All(runs, r => Assert.Equal(1, r));
        }

        // The same two threads every call: never the caller, never a thread pool thread.
        Assert.Equal(2, decoders.ThreadIds.Distinct().Count());
        Assert.Subset(decoders.ThreadIds.ToHashSet(), seen.Keys.ToHashSet());
        Assert.DoesNotContain(Environment.CurrentManagedThreadId, seen.Keys);
        Assert.Equal(250, seen.Values.Sum());
    }

    [Fact]
    public void For_BodyThrows_EveryOtherItemRunsAndTheExceptionComesBackAsItWas()
    {
        using var decoders = new WorkerThreads(2, "decode");
        var ran = 0;

        var error = Assert.Throws<IOException>(() => decoders.For(20, i =>
        {
            if (i == 3)
            {
                throw new IOException("item 3");
            }

            Interlocked.Increment(ref ran);
        }));

        Assert.Equal("item 3", error.Message);
        Assert.Equal(19, ran);
        decoders.For(1, _ => Interlocked.Increment(ref ran));   // still usable
        Assert.Equal(20, ran);
    }
}
