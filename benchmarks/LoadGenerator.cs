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
/// The bodies are made before the clock starts, so the client's own cost is a send and a read.
/// </summary>
internal static class LoadGenerator
{
    /// <param name="warmUp">First send a few requests per connection, not counted: opens every connection and lets the
    /// server's first requests on them pass before the clock starts.</param>
    public static async Task<LoadRun> RunAsync(Uri url, IReadOnlyList<TritonWire.WireBody> bodies, int concurrency, int requests, TimeSpan limit, bool warmUp = true)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(concurrency);
        using var handler = new SocketsHttpHandler
        {
            MaxConnectionsPerServer = concurrency,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(10),
            UseProxy = false,
            AutomaticDecompression = DecompressionMethods.None,
        };
        using var client = new HttpClient(handler) { Timeout = TimeSpan.FromMinutes(2) };
        if (warmUp)
        {
            await Run(client, url, bodies, concurrency, Math.Max(2 * concurrency, 8), TimeSpan.FromMinutes(2));
        }

        return await Run(client, url, bodies, concurrency, requests, limit);
    }

    private static async Task<LoadRun> Run(HttpClient client, Uri url, IReadOnlyList<TritonWire.WireBody> bodies, int concurrency, int requests, TimeSpan limit)
    {
        var issued = 0;
        var start = Stopwatch.GetTimestamp();
        var workers = Enumerable.Range(0, concurrency).Select(_ => Task.Run(async () =>
        {
            var own = new Worker();
            for (var n = Interlocked.Increment(ref issued); n <= requests && Stopwatch.GetElapsedTime(start) < limit; n = Interlocked.Increment(ref issued))
            {
                await own.SendAsync(client, url, bodies[(n - 1) % bodies.Count]);
            }

            return own;
        })).ToArray();
        var done = await Task.WhenAll(workers);
        var seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
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

        public async Task SendAsync(HttpClient client, Uri url, TritonWire.WireBody body)
        {
            var sent = Stopwatch.GetTimestamp();
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
                        break;
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
        }
    }
}
