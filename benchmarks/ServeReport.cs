namespace DogsVsCats.Vision.Benchmarks;

/// <summary>How the photos travel: encoded (BYTES, decoded and resized by the server) or as the model's uint8 tensor.</summary>
internal enum RequestKind
{
    Jpeg,
    Tensor,
}

/// <summary>One load row's figures, from its <see cref="LoadRun"/>; latencies in ms. One image per request.</summary>
internal sealed record LoadStats(int Accepted, int Rejected, int Failed, double Seconds, double P50, double P95, double P99, double RejectedP99)
{
    public static LoadStats Of(LoadRun run)
    {
        return new LoadStats(
            run.Accepted.Count, run.Rejected.Count, run.Failed, run.Seconds,
            Statistics.Percentile(run.Accepted, 0.50), Statistics.Percentile(run.Accepted, 0.95), Statistics.Percentile(run.Accepted, 0.99),
            Statistics.Percentile(run.Rejected, 0.99));
    }

    /// <summary>Every answer per second, 503s included.</summary>
    public double RequestsPerSecond => (Accepted + Rejected + Failed) / Seconds;

    /// <summary>Images classified per second (only accepted requests carry one).</summary>
    public double ImagesPerSecond => Accepted / Seconds;
}

/// <summary>The raw model at one batch size: ONNX Runtime alone on ready tensors; <paramref name="P50Ms"/> per batch.</summary>
internal sealed record RawStats(int Batch, double ImagesPerSecond, double P50Ms);

/// <summary>One table row: the server, the server with --max-batch 1, and the raw model at the batch this concurrency fills.</summary>
internal sealed record ServeRow(RequestKind Kind, int Concurrency, LoadStats Server, LoadStats SingleBatch, RawStats Raw);

/// <summary>One round of the concurrency-1 overhead: the median of its raw batch-1 runs, then of its server requests, in ms.</summary>
/// <param name="RawMs">Median of the round's raw batch-1 runs in the bench's process.</param>
/// <param name="ServerMs">Median latency of the round's tensor requests, as the client saw it.</param>
/// <param name="ServerInferMs">Median of the server's own ONNX Runtime run for those requests (Server-Timing's infer).</param>
/// <param name="AddedMs">Median over the round's requests of latency less the server's run for that request.</param>
internal sealed record OverheadRound(double RawMs, double ServerMs, double ServerInferMs, double AddedMs);

/// <summary>
/// The concurrency-1 overhead in short alternating rounds. The goal's figure is what HTTP, parsing and batching add
/// to the server's own inference of the same request (as Triton's perf_analyzer separates a request's latency from
/// the server's compute), the median of the rounds'. Beside it, for the record: the request latency less the raw
/// batch-1 run in the bench's process, which also holds the drift of inference time between two processes.
/// </summary>
internal sealed record OverheadRun(IReadOnlyList<OverheadRound> Rounds)
{
    public double MedianMs => Added(0.5);

    public double LowerQuartileMs => Added(0.25);

    public double UpperQuartileMs => Added(0.75);

    public double RawMedianMs => Median(r => r.RawMs);

    public double ServerMedianMs => Median(r => r.ServerMs);

    public double ServerInferMedianMs => Median(r => r.ServerInferMs);

    /// <summary>Median of the rounds' request latency less their raw batch-1 run in the bench's process.</summary>
    public double VersusRawMs => Median(r => r.ServerMs - r.RawMs);

    private double Added(double quantile) => Statistics.Percentile([.. Rounds.Select(r => r.AddedMs)], quantile);

    private double Median(Func<OverheadRound, double> figure) => Statistics.Percentile([.. Rounds.Select(figure)], 0.5);
}

/// <summary>
/// A server with a small --max-queue: just below saturation (the most concurrency at which nothing was refused), past
/// it (an open loop at <paramref name="PastRate"/> requests/s, twice what the row below answered), and the refusal
/// storm (a closed loop at <paramref name="StormConcurrency"/> that resends each 503 at once).
/// </summary>
internal sealed record SaturationRun(int MaxQueue, int BelowConcurrency, LoadStats Below, double PastRate, LoadStats Past, int StormConcurrency, LoadStats Storm);

/// <summary>The server's peak resident memory (VmHWM) after the first <paramref name="Baseline"/> requests and after all of them.</summary>
internal sealed record MemoryRun(int Requests, int Baseline, long BaselineBytes, long PeakBytes)
{
    public double Growth => (double)PeakBytes / BaselineBytes - 1;
}

/// <summary>Everything bench serve measured for one model.</summary>
/// <param name="FolderRate">Folder labelling of the same photos (realtime --source, as bench label runs it), files/s.</param>
/// <param name="Overhead">The concurrency-1 overhead in alternating rounds; null: not measured.</param>
internal sealed record ServeResults(string Model, int MaxBatch, IReadOnlyList<RawStats> Raw, double FolderRate, IReadOnlyList<ServeRow> Rows, OverheadRun? Overhead, SaturationRun? Saturation, MemoryRun? Memory);

/// <summary>One goal: the figure, its target, and whether it was met (null: this run did not measure it).</summary>
internal sealed record GoalCheck(string Goal, string Figure, string Target, bool? Met);

/// <summary>
/// bench serve's goals (issue 19), computed from measured figures only, and its tables. A goal that fails is printed
/// as such; the command still ends normally, since a figure on a shared machine is not a verdict on the code.
/// </summary>
internal static class ServeReport
{
    public const int LoadedConcurrency = 16;
    public const double TensorVsRaw = 0.9;
    public const double JpegVsFolder = 0.85;
    public const double OverheadMs = 1;
    public const double RejectWithinMs = 50;
    public const double AcceptedP99Ratio = 2;
    public const double MemoryGrowth = 0.05;

    public static IReadOnlyList<GoalCheck> Goals(ServeResults results)
    {
        var goals = new List<GoalCheck>();
        var full = results.Raw.SingleOrDefault(r => r.Batch == results.MaxBatch);
        var loaded = results.Rows.Where(r => r.Concurrency >= LoadedConcurrency).ToList();

        // "At concurrency 16+": every such row must hold, so the worst of them is the figure.
        var tensor = loaded.Where(r => r.Kind == RequestKind.Tensor).MinBy(r => r.Server.ImagesPerSecond);
        goals.Add(tensor is null || full is null
            ? Unmeasured($"tensor images/s at concurrency {LoadedConcurrency}+ / raw batch {results.MaxBatch}", $">= {TensorVsRaw:F2} x")
            : Ratio($"tensor images/s at concurrency {LoadedConcurrency}+ (worst: {tensor.Concurrency}) / raw batch {results.MaxBatch}", tensor.Server.ImagesPerSecond / full.ImagesPerSecond, TensorVsRaw, atLeast: true));
        var jpeg = loaded.Where(r => r.Kind == RequestKind.Jpeg).MinBy(r => r.Server.ImagesPerSecond);
        goals.Add(jpeg is null || results.FolderRate <= 0
            ? Unmeasured($"JPEG images/s at concurrency {LoadedConcurrency}+ / folder labelling", $">= {JpegVsFolder:F2} x")
            : Ratio($"JPEG images/s at concurrency {LoadedConcurrency}+ (worst: {jpeg.Concurrency}) / folder labelling", jpeg.Server.ImagesPerSecond / results.FolderRate, JpegVsFolder, atLeast: true));

        const string OverheadGoal = "concurrency 1: tensor request latency - its server inference";
        goals.Add(results.Overhead is { Rounds.Count: > 0 } overhead
            ? new GoalCheck($"{OverheadGoal}, median of {overhead.Rounds.Count} rounds", $"{overhead.MedianMs:F2} ms", $"<= {OverheadMs:F1} ms", overhead.MedianMs <= OverheadMs)
            : Unmeasured(OverheadGoal, $"<= {OverheadMs:F1} ms"));

        if (results.Saturation is { Below.Rejected: > 0 } busy)
        {
            // The row meant to be below saturation already refused some: there is no figure below saturation to compare with.
            goals.Add(Unmeasured($"past saturation: 503 p99 (concurrency {busy.BelowConcurrency} already refused {busy.Below.Rejected})", $"<= {RejectWithinMs:F0} ms"));
            goals.Add(Unmeasured($"past saturation: accepted p99 / p99 just below it (concurrency {busy.BelowConcurrency} already refused {busy.Below.Rejected})", $"<= {AcceptedP99Ratio:F1} x"));
        }
        else if (results.Saturation is { } saturation && saturation.Past.Rejected > 0)
        {
            goals.Add(new GoalCheck($"past saturation ({saturation.PastRate:F0} requests/s, --max-queue {saturation.MaxQueue}): 503 p99", $"{saturation.Past.RejectedP99:F1} ms", $"<= {RejectWithinMs:F0} ms", saturation.Past.RejectedP99 <= RejectWithinMs));
            goals.Add(Ratio($"past saturation: accepted p99 / p99 at concurrency {saturation.BelowConcurrency}", saturation.Past.P99 / saturation.Below.P99, AcceptedP99Ratio, atLeast: false));
        }
        else
        {
            // No 503 at all means the load never passed saturation: nothing about rejections was measured.
            var why = results.Saturation is null ? "" : " (no request was rejected)";
            goals.Add(Unmeasured($"past saturation: 503 p99{why}", $"<= {RejectWithinMs:F0} ms"));
            goals.Add(Unmeasured($"past saturation: accepted p99 / p99 below it{why}", $"<= {AcceptedP99Ratio:F1} x"));
        }

        goals.Add(results.Memory is { } memory
            ? new GoalCheck($"peak RSS growth from request {memory.Baseline:N0} to {memory.Requests:N0}", $"{memory.Growth:P1}", $"< {MemoryGrowth:P0}", memory.Growth < MemoryGrowth)
            : Unmeasured("peak RSS growth after the first tenth of the requests", $"< {MemoryGrowth:P0}"));
        return goals;
    }

    /// <summary>The rows side by side, then the saturation and memory runs, then the goals.</summary>
    public static void Print(ServeResults results, TextWriter output)
    {
        output.WriteLine($"== {results.Model} ==");
        output.WriteLine($"{"",-12} | {$"server, --max-batch {results.MaxBatch}",-50} | {"server, --max-batch 1",-31} | raw model");
        output.WriteLine($"{"input",-6} {"conc",5} | {"req/s",8} {"img/s",8} {"p50 ms",8} {"p95 ms",8} {"p99 ms",8} {"503",5} | {"img/s",8} {"p50 ms",6} {"p95 ms",6} {"p99 ms",6} | {"batch",5} {"img/s",8} {"ms/batch",8}");
        foreach (var row in results.Rows)
        {
            var (s, one, raw) = (row.Server, row.SingleBatch, row.Raw);
            output.WriteLine($"{row.Kind.ToString().ToLowerInvariant(),-6} {row.Concurrency,5} | {s.RequestsPerSecond,8:F1} {s.ImagesPerSecond,8:F1} {s.P50,8:F2} {s.P95,8:F2} {s.P99,8:F2} {s.Rejected,5} | {one.ImagesPerSecond,8:F1} {one.P50,6:F1} {one.P95,6:F1} {one.P99,6:F1} | {raw.Batch,5} {raw.ImagesPerSecond,8:F1} {raw.P50Ms,8:F2}");
        }

        var failed = results.Rows.Sum(r => r.Server.Failed + r.SingleBatch.Failed);
        if (failed > 0)
        {
            output.WriteLine($"warning: {failed} requests failed (neither 200 nor 503); their rows count only the others.");
        }

        output.WriteLine($"folder labelling of the same photos: {results.FolderRate:F1} files/s");
        if (results.Overhead is { Rounds.Count: > 0 } overhead)
        {
            output.WriteLine($"concurrency 1, tensor requests, {overhead.Rounds.Count} rounds: latency - the server's own inference (Server-Timing) median {overhead.MedianMs:F2} ms (quartiles {overhead.LowerQuartileMs:F2} to {overhead.UpperQuartileMs:F2}); latency {overhead.ServerMedianMs:F2} ms, server inference {overhead.ServerInferMedianMs:F2} ms, raw batch-1 run in alternation {overhead.RawMedianMs:F2} ms (latency - raw: {overhead.VersusRawMs:F2} ms)");
        }

        if (results.Saturation is { } saturation)
        {
            foreach (var (load, stats) in new[]
            {
                ($"concurrency {saturation.BelowConcurrency}", saturation.Below),
                ($"{saturation.PastRate:F1} requests/s", saturation.Past),
                ($"concurrency {saturation.StormConcurrency}, each 503 resent at once", saturation.Storm),
            })
            {
                output.WriteLine($"--max-queue {saturation.MaxQueue}, tensor, {load}: {stats.Accepted} accepted ({stats.ImagesPerSecond:F1} images/s, p50 {stats.P50:F1} ms, p99 {stats.P99:F1} ms), {stats.Rejected} answered 503{(stats.Rejected > 0 ? $" (p99 {stats.RejectedP99:F1} ms)" : "")}");
            }
        }

        if (results.Memory is { } memory)
        {
            output.WriteLine($"memory over {memory.Requests:N0} JPEG requests: peak RSS {memory.BaselineBytes / 1048576.0:F0} MiB after {memory.Baseline:N0}, {memory.PeakBytes / 1048576.0:F0} MiB after all{(memory.Requests < 100_000 ? " (the goal is stated over 100,000: --memory-requests 100000)" : "")}");
        }

        output.WriteLine($"{"goal",-82} {"figure",10} {"target",9}  result");
        foreach (var goal in Goals(results))
        {
            output.WriteLine($"{goal.Goal,-82} {goal.Figure,10} {goal.Target,9}  {goal.Met switch { true => "met", false => "NOT MET", null => "not measured" }}");
        }
    }

    private static GoalCheck Ratio(string goal, double ratio, double target, bool atLeast) =>
        new(goal, $"{ratio:F2} x", $"{(atLeast ? ">=" : "<=")} {target:F2} x", atLeast ? ratio >= target : ratio <= target);

    private static GoalCheck Unmeasured(string goal, string target) => new(goal, "-", target, null);
}
