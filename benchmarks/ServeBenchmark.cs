using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using DogsVsCats.Vision.Shared;
using DogsVsCats.Vision.Shared.Inference;
using Microsoft.ML.OnnxRuntime;

namespace DogsVsCats.Vision.Benchmarks;

/// <summary>What bench serve runs: the parsed and checked command line.</summary>
internal sealed record ServeBenchmarkRequest
{
    public required string Model { get; init; }

    /// <summary>The int8 model measured after the float one; null: none.</summary>
    public string? Int8Model { get; init; }

    /// <summary>Folder of photos: its JPEGs are the requests' photos and folder labelling's reference.</summary>
    public required string Photos { get; init; }

    public required IReadOnlyList<int> Concurrency { get; init; }

    /// <summary>Each row ends after this many requests or <see cref="Seconds"/>, whichever comes first.</summary>
    public required int Requests { get; init; }

    public required double Seconds { get; init; }

    public required int MaxBatch { get; init; }

    /// <summary>Alternating rounds of the concurrency-1 overhead; 0: none.</summary>
    public required int OverheadRounds { get; init; }

    /// <summary>The --max-queue of the saturation run; 0: no saturation run.</summary>
    public required int SaturationQueue { get; init; }

    /// <summary>Requests of the memory run; 0: no memory run.</summary>
    public required int MemoryRequests { get; init; }

    public required double MemorySeconds { get; init; }

    public required int Threads { get; init; }
}

/// <summary>
/// The serve mode under load from <see cref="LoadGenerator"/> on loopback: photos sent as tritonclient.http sends them,
/// as JPEG bytes (BYTES) and as uint8 tensors pre-resized by the shared rule (UINT8), one per request, at each
/// concurrency; beside each row the same server with --max-batch 1 and the raw model (ModelRunner, ONNX Runtime alone)
/// at the batch that concurrency fills; folder labelling of the same photos; the overhead at concurrency 1 in
/// alternating rounds; a saturation run, a memory run, and the goals (<see cref="ServeReport"/>).
/// The server runs as its own process (realtime.dll beside bench, as a user starts it), not in this one: in process,
/// the load generator's threads, allocations and garbage collections would share the server's thread pool and heap,
/// and the memory goal would read the client's buffers as the server's. Its CPU cores it still shares: the client
/// runs on the same machine, as loopback requires, so the server's figures include what sending costs.
/// </summary>
internal static partial class ServeBenchmark
{
    /// <summary>Distinct pre-resized tensors sent round robin: their content does not change the speed, only memory.</summary>
    private const int TensorPhotos = 64;

    /// <summary>Counted runs of each side in a round of the concurrency-1 overhead.</summary>
    private const int OverheadRoundRuns = 8;

    /// <summary>Runs of each side, first in a round, not counted.</summary>
    private const int OverheadRoundSettle = 2;

    public static async Task Run(ServeBenchmarkRequest request)
    {
        var jpegs = Directory.EnumerateFiles(request.Photos, "*", SearchOption.AllDirectories)
            .Where(IsJpeg).Order(StringComparer.Ordinal).Select(File.ReadAllBytes).ToList();
        Console.WriteLine($"ONNX Runtime {OrtEnv.Instance().GetVersionString()} CPU, {(request.Threads > 0 ? request.Threads : Environment.ProcessorCount)} threads, {Environment.ProcessorCount} cores; {jpegs.Count} JPEGs of {request.Photos}, one per request.");
        Console.WriteLine($"Server: realtime serve as its own process on 127.0.0.1; each row up to {request.Requests} requests or {request.Seconds:F0} s after a warm-up; the load generator in this process on the same cores.");
        foreach (var model in new[] { request.Model, request.Int8Model }.OfType<string>())
        {
            Console.WriteLine();
            Console.WriteLine($"{Path.GetFileName(model)}:");
            var results = await Measure(model, jpegs, request);
            ServeReport.Print(results, Console.Out);
        }
    }

    private static async Task<ServeResults> Measure(string model, List<byte[]> jpegs, ServeBenchmarkRequest request)
    {
        var limit = TimeSpan.FromSeconds(request.Seconds);
        var batches = request.Concurrency.Select(c => Math.Min(c, request.MaxBatch)).Append(1).Append(request.MaxBatch).Distinct().Order().ToList();
        List<RawStats> raw;
        List<TritonWire.WireBody> tensors;
        List<byte[]> pixels;
        using (var runner = new ModelRunner(model, request.Threads))
        {
            var description = runner.Description;
            pixels = [.. jpegs.Take(TensorPhotos).Select(j => Resized(j, description))];
            tensors = [.. pixels.Select(p => TritonWire.BinaryBody("UINT8", [1, description.InputHeight, description.InputWidth, 3], p))];
            raw = [.. batches.Select(b => Raw(runner, pixels, b, request.Requests, request.Seconds))];
        }

        Console.WriteLine($"  raw model: {string.Join(", ", raw.Select(r => $"batch {r.Batch} {r.ImagesPerSecond:F1} images/s"))}");
        var photos = jpegs.Select(j => TritonWire.BinaryBody("BYTES", [1], TritonWire.SerializeBytes([j]))).ToList();
        var bodies = new Dictionary<RequestKind, IReadOnlyList<TritonWire.WireBody>> { [RequestKind.Jpeg] = photos, [RequestKind.Tensor] = tensors };

        var folderRate = await FolderRate(model, request);
        Console.WriteLine($"  folder labelling: {folderRate:F1} files/s");

        var measured = new Dictionary<(int MaxBatch, RequestKind Kind, int Concurrency), LoadStats>();
        OverheadRun? overhead = null;
        foreach (var maxBatch in new[] { request.MaxBatch, 1 })
        {
            await using var server = await ServerProcess.StartAsync(model, request.Threads, "--max-batch", Text(maxBatch));
            foreach (var kind in Enum.GetValues<RequestKind>())
            {
                foreach (var concurrency in request.Concurrency)
                {
                    var stats = await Load(server.InferUrl, bodies[kind], concurrency, request.Requests, limit);
                    measured[(maxBatch, kind, concurrency)] = stats;
                    Console.WriteLine($"  --max-batch {maxBatch}, {kind.ToString().ToLowerInvariant()}, concurrency {concurrency}: {stats.ImagesPerSecond:F1} images/s");
                }
            }

            if (maxBatch == request.MaxBatch && request.OverheadRounds > 0)
            {
                overhead = await Overhead(server.InferUrl, model, pixels, tensors, request);
            }
        }

        var rows = Enum.GetValues<RequestKind>().SelectMany(kind => request.Concurrency.Select(c => new ServeRow(
            kind, c, measured[(request.MaxBatch, kind, c)], measured[(1, kind, c)], raw.Single(r => r.Batch == Math.Min(c, request.MaxBatch))))).ToList();
        return new ServeResults(Path.GetFileName(model), request.MaxBatch, raw, folderRate, rows, overhead,
            request.SaturationQueue > 0 ? await Saturation(model, tensors, request) : null,
            request.MemoryRequests > 0 ? await Memory(model, photos, request) : null);
    }

    /// <summary>
    /// Tensor requests against a queue of Q (--saturation-queue, by default two full batches). Just below saturation is
    /// the most load at which nothing is refused: from concurrency Q + --max-batch (a full batch running, the queue
    /// full behind it) down towards Q, a step at a time until a row has no 503 (at Q none can be: Q requests never
    /// fill a queue of Q while one more arrives). Past saturation is an open loop at twice the rate that row answered,
    /// so about half the arrivals find the queue full; its sends are bounded by twice --requests and the time limit.
    /// Then the refusal storm, for the record: a closed loop at 4 Q whose workers resend each 503 at once, until as
    /// many requests as the row below are accepted.
    /// </summary>
    private static async Task<SaturationRun> Saturation(string model, IReadOnlyList<TritonWire.WireBody> tensors, ServeBenchmarkRequest request)
    {
        var queue = request.SaturationQueue;
        await using var server = await ServerProcess.StartAsync(model, request.Threads, "--max-batch", Text(request.MaxBatch), "--max-queue", Text(queue));
        var limit = TimeSpan.FromSeconds(request.Seconds);
        var belowConcurrency = queue + Math.Min(queue, request.MaxBatch);
        LoadStats below;
        while (true)
        {
            below = await Load(server.InferUrl, tensors, belowConcurrency, request.Requests, limit);
            Console.WriteLine($"  saturation: concurrency {belowConcurrency}, {below.Rejected} of {below.Accepted + below.Rejected + below.Failed} refused");
            if (below.Rejected == 0 || belowConcurrency == queue)
            {
                break;
            }

            belowConcurrency = Math.Max(queue, belowConcurrency - Math.Max(1, request.MaxBatch / 4));
        }

        var rate = 2 * below.ImagesPerSecond;
        var past = LoadStats.Of(await LoadGenerator.RunOpenAsync(server.InferUrl, tensors, rate, 2 * request.Requests, limit, maxInFlight: 2 * (queue + request.MaxBatch)));
        Console.WriteLine($"  saturation: {rate:F1} requests/s sent, {past.Rejected} of {past.Accepted + past.Rejected + past.Failed} refused");
        var storm = LoadStats.Of(await LoadGenerator.RunAsync(server.InferUrl, tensors, 4 * queue, below.Accepted, limit, countAccepted: true));
        Console.WriteLine($"  refusal storm: concurrency {4 * queue}, {storm.Rejected} of {storm.Accepted + storm.Rejected + storm.Failed} refused");
        return new SaturationRun(queue, belowConcurrency, below, rate, past, 4 * queue, storm);
    }

    /// <summary>
    /// What HTTP and serialisation add at concurrency 1, in short alternating rounds (--overhead-rounds): each round
    /// <see cref="OverheadRoundRuns"/> raw batch-1 runs in this process (the server idle), then as many tensor requests
    /// to the server (this process's model idle), each side's first <see cref="OverheadRoundSettle"/> not counted
    /// (the other side's ONNX Runtime threads still spin for a moment after its last run and would slow them). Each
    /// request's figure is its latency less the server's own run for it (the response's Server-Timing infer), the
    /// round's the median of those, the goal's the median of the rounds'. The raw runs give the figure beside it:
    /// latency less this process's run, which also holds how inference time differs between the two processes (on
    /// a 2-core machine a few per cent of a 40 ms run, more than the overhead itself).
    /// </summary>
    private static async Task<OverheadRun> Overhead(Uri url, string model, List<byte[]> pixels, List<TritonWire.WireBody> tensors, ServeBenchmarkRequest request)
    {
        using var runner = new ModelRunner(model, request.Threads);
        pixels[0].CopyTo(runner.InputBytes(1));
        using var client = LoadGenerator.Client(1);
        async Task<(double Latency, double Infer)> Request(int n)
        {
            using var content = TritonWire.Content(tensors[n % tensors.Count]);
            var start = Stopwatch.GetTimestamp();
            using var response = await client.PostAsync(url, content);
            await response.Content.ReadAsByteArrayAsync();
            var ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            return response.IsSuccessStatusCode
                ? (ms, ServerInferMs(response))
                : throw new InvalidOperationException($"The server answered {(int)response.StatusCode} at concurrency 1.");
        }

        var rounds = new List<OverheadRound>(request.OverheadRounds);
        for (var round = 0; round < request.OverheadRounds; round++)
        {
            var raw = new List<double>();
            for (var n = 0; n < OverheadRoundSettle + OverheadRoundRuns; n++)
            {
                raw.Add(TimedRun(runner, 1));
            }

            var served = new List<(double Latency, double Infer)>();
            for (var n = 0; n < OverheadRoundSettle + OverheadRoundRuns; n++)
            {
                served.Add(await Request(n));
            }

            var counted = served[OverheadRoundSettle..];
            rounds.Add(new OverheadRound(
                Statistics.Percentile(raw[OverheadRoundSettle..], 0.5),
                Statistics.Percentile([.. counted.Select(s => s.Latency)], 0.5),
                Statistics.Percentile([.. counted.Select(s => s.Infer)], 0.5),
                Statistics.Percentile([.. counted.Select(s => s.Latency - s.Infer)], 0.5)));
        }

        var run = new OverheadRun(rounds);
        Console.WriteLine($"  concurrency 1 overhead: median {run.MedianMs:F2} ms over {rounds.Count} rounds");
        return run;
    }

    /// <summary>The server's ONNX Runtime run for this request, from its Server-Timing header (infer;dur=ms).</summary>
    internal static double ServerInferMs(HttpResponseMessage response)
    {
        var timing = response.Headers.TryGetValues("Server-Timing", out var values) ? string.Join(',', values) : "";
        var match = ServerTimingInfer().Match(timing);
        return match.Success
            ? double.Parse(match.Groups["ms"].Value, CultureInfo.InvariantCulture)
            : throw new InvalidOperationException($"The server's answer has no Server-Timing infer duration ('{timing}').");
    }

    /// <summary>
    /// A fresh server, JPEG requests at concurrency 16: its kernel-kept peak resident memory (VmHWM) after the first
    /// tenth of the requests, which covers warming up, and after all of them. No warm-up of the client, so the first
    /// tenth counts from the server's first request.
    /// </summary>
    private static async Task<MemoryRun> Memory(string model, IReadOnlyList<TritonWire.WireBody> photos, ServeBenchmarkRequest request)
    {
        const int Concurrency = 16;
        await using var server = await ServerProcess.StartAsync(model, request.Threads, "--max-batch", Text(request.MaxBatch));
        var clock = Stopwatch.StartNew();
        var limit = TimeSpan.FromSeconds(request.MemorySeconds);
        var first = await LoadGenerator.RunAsync(server.InferUrl, photos, Concurrency, request.MemoryRequests / 10, limit, warmUp: false);
        var baseline = server.PeakWorkingSet();
        var rest = await LoadGenerator.RunAsync(server.InferUrl, photos, Concurrency, request.MemoryRequests - (request.MemoryRequests / 10), limit - clock.Elapsed, warmUp: false);
        var peak = server.PeakWorkingSet();
        static int Answered(LoadRun run) => run.Accepted.Count + run.Rejected.Count + run.Failed;
        return new MemoryRun(Answered(first) + Answered(rest), Answered(first), baseline, peak);
    }

    /// <summary>
    /// Folder labelling of the same photos (realtime --source, its own process, as bench label runs it), at the rate
    /// of the app's own summary line: its labelling loop alone, without process start and model load, so a small
    /// folder gives the same reference as a large one. 0 (the goal then reads "not measured") when it failed.
    /// </summary>
    private static async Task<double> FolderRate(string model, ServeBenchmarkRequest request)
    {
        var work = Directory.CreateTempSubdirectory("dogsvscats-bench-");
        try
        {
            var csv = Path.Combine(work.FullName, "labels.csv");
            var (code, output) = await LabelBenchmark.Realtime(model, request.Threads, null, "--source", request.Photos, "--batch", Text(request.MaxBatch), "--csv", csv, "--device", "cpu");
            var summary = SummaryRate().Match(output);
            if (code != ExitCodes.Ok || !summary.Success)
            {
                Console.WriteLine($"  folder labelling exited {code} without its summary line: the JPEG goal is not measured.");
                return 0;
            }

            return double.Parse(summary.Groups["rate"].Value, CultureInfo.InvariantCulture);
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    /// <summary>Folder labelling's closing line, as ProgressText.Summary words it: "Summary: 3000 in 35.2 s, 85.2 images/s".</summary>
    [GeneratedRegex(@"Summary: \d+ in [\d.]+ s, (?<rate>[\d.]+) images/s")]
    internal static partial Regex SummaryRate();

    [GeneratedRegex(@"(?:^|,)\s*infer;dur=(?<ms>[\d.]+)")]
    private static partial Regex ServerTimingInfer();

    /// <summary>One load row; the first failure (neither 200 nor 503), if any, is said at once.</summary>
    private static async Task<LoadStats> Load(Uri url, IReadOnlyList<TritonWire.WireBody> bodies, int concurrency, int requests, TimeSpan limit)
    {
        var run = await LoadGenerator.RunAsync(url, bodies, concurrency, requests, limit);
        if (run.FirstFailure is not null)
        {
            Console.WriteLine($"  {run.Failed} requests failed at concurrency {concurrency}; the first: {run.FirstFailure}");
        }

        return LoadStats.Of(run);
    }

    internal static RawStats Raw(ModelRunner runner, List<byte[]> pixels, int batch, int images, double seconds)
    {
        var input = runner.InputBytes(batch);
        for (var i = 0; i < batch; i++)
        {
            pixels[i % pixels.Count].CopyTo(input[(i * runner.ImageBytes)..]);
        }

        runner.Run();   // the first run of a shape plans its memory
        var times = new List<double>();
        var clock = Stopwatch.StartNew();
        while ((times.Count * batch < images && clock.Elapsed.TotalSeconds < seconds) || times.Count < 3)
        {
            times.Add(TimedRun(runner, batch));
        }

        return new RawStats(batch, times.Count * batch / clock.Elapsed.TotalSeconds, Statistics.Percentile(times, 0.5));
    }

    /// <summary>One run of the batch already in the runner's input, in ms.</summary>
    private static double TimedRun(ModelRunner runner, int batch)
    {
        runner.InputBytes(batch);   // the bytes stay; this only names the batch to run
        var start = Stopwatch.GetTimestamp();
        runner.Run();
        return Stopwatch.GetElapsedTime(start).TotalMilliseconds;
    }

    /// <summary>A photo as a client that knows the model's rule sends it: decoded, resized by the shared rule, uint8 [H, W, 3] BGR.</summary>
    internal static byte[] Resized(byte[] jpeg, ModelDescription model)
    {
        if (!ImageFile.TryDecode(jpeg, long.MaxValue, out var bgr, out var error))
        {
            throw new InvalidDataException($"A photo does not decode: {error}.");
        }

        using (bgr)
        {
            using var resized = ImagePreprocessing.Resize(bgr, model.InputWidth, model.InputHeight);
            return resized.AsSpan<byte>().ToArray();
        }
    }

    private static bool IsJpeg(string path) => Path.GetExtension(path).ToLowerInvariant() is ".jpg" or ".jpeg";

    private static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// realtime serve as a child process on a free loopback port, ready (GET /v2/health/ready answers 200) when
    /// <see cref="StartAsync"/> returns; its output is kept (the last lines) to say why it failed.
    /// </summary>
    private sealed class ServerProcess : IAsyncDisposable
    {
        private readonly Process process;
        private readonly Queue<string> tail = new();

        private ServerProcess(Process process, int port)
        {
            this.process = process;
            InferUrl = new Uri($"http://127.0.0.1:{port}/v2/models/dogsvscats/infer");
            process.OutputDataReceived += (_, e) => Keep(e.Data);
            process.ErrorDataReceived += (_, e) => Keep(e.Data);
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
        }

        public Uri InferUrl { get; }

        public static async Task<ServerProcess> StartAsync(string model, int threads, params string[] args)
        {
            var port = FreePort();
            var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var arg in new[] { Path.Combine(AppContext.BaseDirectory, "realtime.dll"), "serve", "--model", model, "--device", "cpu", "--threads", Text(threads), "--urls", $"http://127.0.0.1:{port}" }.Concat(args))
            {
                start.ArgumentList.Add(arg);
            }

            var server = new ServerProcess(Process.Start(start) ?? throw new InvalidOperationException("could not start dotnet realtime.dll serve"), port);
            try
            {
                await server.WaitReadyAsync(port);
                return server;
            }
            catch
            {
                await server.DisposeAsync();
                throw;
            }
        }

        /// <summary>The server's peak resident memory so far (on Linux the kernel's high-water mark, VmHWM).</summary>
        public long PeakWorkingSet()
        {
            process.Refresh();
            return process.PeakWorkingSet64;
        }

        public async ValueTask DisposeAsync()
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }

            await process.WaitForExitAsync();
            process.Dispose();
        }

        /// <summary>A port free a moment ago: Kestrel cannot tell a child's chosen port back other than in its log.</summary>
        private static int FreePort()
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            return ((IPEndPoint)listener.LocalEndpoint).Port;
        }

        private async Task WaitReadyAsync(int port)
        {
            using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(5) };
            var deadline = Stopwatch.StartNew();
            while (true)
            {
                if (process.HasExited)
                {
                    throw new InvalidOperationException($"realtime serve exited {process.ExitCode} before it was ready:\n{Tail()}");
                }

                try
                {
                    using var response = await client.GetAsync(new Uri("/v2/health/ready", UriKind.Relative));
                    if (response.IsSuccessStatusCode)
                    {
                        return;
                    }
                }
                catch (HttpRequestException)
                {
                    // Not listening yet.
                }

                if (deadline.Elapsed > TimeSpan.FromMinutes(3))
                {
                    throw new TimeoutException($"realtime serve was not ready within 3 minutes:\n{Tail()}");
                }

                await Task.Delay(100);
            }
        }

        private void Keep(string? line)
        {
            if (line is null)
            {
                return;
            }

            lock (tail)
            {
                tail.Enqueue(line);
                if (tail.Count > 40)
                {
                    tail.Dequeue();
                }
            }
        }

        private string Tail()
        {
            lock (tail)
            {
                return string.Join('\n', tail);
            }
        }
    }
}
