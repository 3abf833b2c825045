using System.Diagnostics;
using System.Net;

namespace DogsVsCats.Vision.Benchmarks;

/// <summary>What one load row measured: each answered request's latency, split by how it was answered.</summary>
/// <param name="Accepted">Milliseconds from sending to the last byte of each 200 answer.</param>
/// <param name="Rejected">The same for each 503 (queue full): how fast the server says no.</param>
/// <param name="Failed">Any other answer or a broken connection; <paramref name="FirstFailure"/> says what the first was.</param>
/// <param name="Seconds">From the first request sent to the last answer read.</param>
internal sealed record LoadRun(IReadOnlyList<double> Accepted, IReadOnlyList<double> Rejected, int Failed, string? FirstFailure, double Seconds);

/// <summary>
/// The bench's client: <c>concurrency</c> workers on one HttpClient whose handler keeps that many connections alive to
/// the server, each sending the next request as soon as its last answer is read (a closed loop, as Triton's
/// perf_analyzer runs by default), until the row's request count or its time is used up, whichever comes first.
/// <see cref="RunOpenAsync"/> sends at a fixed rate instead (an open loop, perf_analyzer's --request-rate-range).
/// The bodies are made before the clock starts, so the client's own cost is a send and a read.
/// </summary>
internal static class LoadGenerator
{
    /// <summary>With <c>countAccepted</c>, a row sends at most this many requests per accepted one it asks for.</summary>
    public const int MaxSendsPerAccepted = 100;

    /// <param name="warmUp">First send a few requests per connection, not counted: opens every connection and lets the
    /// server's first requests on them pass before the clock starts.</param>
    /// <param name="countAccepted">The row ends after <paramref name="requests"/> accepted answers rather than answers of
    /// any kind: past saturation a 503 comes back at once and its worker sends again, so counting every answer would end
    /// the row after a handful of accepted ones. Its sends stay bounded, by the time limit and by
    /// <see cref="MaxSendsPerAccepted"/> times <paramref name="requests"/>.</param>
    public static async Task<LoadRun> RunAsync(Uri url, IReadOnlyList<TritonWire.WireBody> bodies, int concurrency, int requests, TimeSpan limit, bool warmUp = true, bool countAccepted = false)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(concurrency);
        using var client = Client(concurrency);
        if (warmUp)
        {
            await Run(client, url, bodies, concurrency, Math.Max(2 * concurrency, 8), TimeSpan.FromMinutes(2), countAccepted: false);
        }

        return await Run(client, url, bodies, concurrency, requests, limit, countAccepted);
    }

    /// <summary>
    /// Requests sent at a fixed rate whatever the answers, as many independent clients arrive: the load that a rate
    /// above what the server answers puts on it, without a closed loop's instant resend of every 503 (whose rate is set
    /// by how fast this client can send, not by the load). Each latency counts from the moment its request was due, so
    /// a client running late adds to it rather than hiding it. Ends after <paramref name="requests"/> sends or
    /// <paramref name="limit"/>; at most <paramref name="maxInFlight"/> connections.
    /// </summary>
    public static async Task<LoadRun> RunOpenAsync(Uri url, IReadOnlyList<TritonWire.WireBody> bodies, double rate, int requests, TimeSpan limit, int maxInFlight)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rate);
        using var client = Client(maxInFlight);
        await Run(client, url, bodies, maxInFlight, maxInFlight, TimeSpan.FromMinutes(2), countAccepted: false);   // opens every connection

        var sends = new List<Task<Worker>>();
        var start = Stopwatch.GetTimestamp();
        for (var n = 0; n < requests; n++)
        {
            var due = start + (long)(n / rate * Stopwatch.Frequency);
            var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), due);
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait);
            }

            if (Stopwatch.GetElapsedTime(start) >= limit)
            {
                break;
            }

            var body = bodies[n % bodies.Count];
            sends.Add(Task.Run(async () =>
            {
                var own = new Worker();
                await own.SendAsync(client, url, body, due);
                return own;
            }));
        }

        var done = await Task.WhenAll(sends);
        return Merge(done, Stopwatch.GetElapsedTime(start).TotalSeconds);
    }

    /// <summary>The bench's HTTP client: at most <paramref name="connections"/> to the server, kept alive between rows' requests.</summary>
    public static HttpClient Client(int connections) => new(new SocketsHttpHandler
    {
        MaxConnectionsPerServer = connections,
        PooledConnectionIdleTimeout = TimeSpan.FromMinutes(10),
        UseProxy = false,
        AutomaticDecompression = DecompressionMethods.None,
    })
    {
        Timeout = TimeSpan.FromMinutes(2),
    };

    private static async Task<LoadRun> Run(HttpClient client, Uri url, IReadOnlyList<TritonWire.WireBody> bodies, int concurrency, int requests, TimeSpan limit, bool countAccepted)
    {
        long issued = 0;
        var accepted = 0;
        var sends = countAccepted ? (long)requests * MaxSendsPerAccepted : requests;
        var start = Stopwatch.GetTimestamp();
        bool More(long n) => n <= sends && (!countAccepted || Volatile.Read(ref accepted) < requests) && Stopwatch.GetElapsedTime(start) < limit;
        var workers = Enumerable.Range(0, concurrency).Select(_ => Task.Run(async () =>
        {
            var own = new Worker();
            for (long n = Interlocked.Increment(ref issued); More(n); n = Interlocked.Increment(ref issued))
            {
                if (await own.SendAsync(client, url, bodies[(int)((n - 1) % bodies.Count)]))
                {
                    Interlocked.Increment(ref accepted);
                }
            }

            return own;
        })).ToArray();
        var done = await Task.WhenAll(workers);
        return Merge(done, Stopwatch.GetElapsedTime(start).TotalSeconds);
    }

    private static LoadRun Merge(Worker[] done, double seconds)
    {
        return new LoadRun(
            [.. done.SelectMany(w => w.Accepted)],
            [.. done.SelectMany(w => w.Rejected)],
            done.Sum(w => w.Failed),
            done.Select(w => w.FirstFailure).FirstOrDefault(f => f is not null),
            seconds);
    }

    /// <summary>One worker's answers: lists of its own, so recording takes no lock.</summary>
    private sealed class Worker
    {
        public List<double> Accepted { get; } = [];

        public List<double> Rejected { get; } = [];

        public int Failed { get; private set; }

        public string? FirstFailure { get; private set; }

        /// <summary>Sends one request and records its answer; true when it was accepted (200).</summary>
        /// <param name="due">The timestamp its latency counts from; by default now.</param>
        public async Task<bool> SendAsync(HttpClient client, Uri url, TritonWire.WireBody body, long? due = null)
        {
            var sent = due ?? Stopwatch.GetTimestamp();
            try
            {
                using var content = TritonWire.Content(body);
                using var response = await client.PostAsync(url, content);
                var answer = await response.Content.ReadAsByteArrayAsync();
                var ms = Stopwatch.GetElapsedTime(sent).TotalMilliseconds;
                switch (response.StatusCode)
                {
                    case HttpStatusCode.OK:
                        Accepted.Add(ms);
                        return true;
                    case HttpStatusCode.ServiceUnavailable:
                        Rejected.Add(ms);
                        break;
                    default:
                        Failed++;
                        FirstFailure ??= $"{(int)response.StatusCode}: {System.Text.Encoding.UTF8.GetString(answer.AsSpan(0, Math.Min(answer.Length, 300)))}";
                        break;
                }
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                // A broken connection or an answer slower than the client's timeout: counted, and the row goes on.
                Failed++;
                FirstFailure ??= e.Message;
            }

            return false;
        }
    }
}
