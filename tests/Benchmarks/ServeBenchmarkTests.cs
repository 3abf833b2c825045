using DogsVsCats.Vision.Benchmarks;

namespace DogsVsCats.Vision.Tests.Benchmarks;

/// <summary>
/// bench serve without a server: its command line makes the request it says (and refuses what it cannot run), and its
/// statistics, table and goals come out right on figures made up here, so a wrong ratio or a goal read the wrong way
/// round fails here rather than in a long run.
/// </summary>
[Trait("Category", "Fast")]
public sealed class ServeBenchmarkTests : IDisposable
{
    private readonly DirectoryInfo work = Directory.CreateTempSubdirectory("dogsvscats-serve-bench-test-");

    public void Dispose() => work.Delete(recursive: true);

    [Fact]
    public void Read_ListsAndLimits_MakeTheRequest_Int8BesideTheModel()
    {
        var (model, photos) = Files(withInt8: true);
        var serve = new ServeCommand();
        var parsed = serve.Command.Parse(["--model", model, "--photos", photos, "--concurrency", "1,16", "64", "--requests", "300", "--seconds", "5", "--memory-requests", "100000", "--saturation-queue", "4", "--overhead-rounds", "3"]);
        Assert.Empty(parsed.Errors);
        var errors = new List<string>();
        var request = serve.Read(parsed, errors);

        Assert.Empty(errors);
        Assert.NotNull(request);
        Assert.Equal([1, 16, 64], request.Concurrency);
        Assert.Equal(300, request.Requests);
        Assert.Equal(5, request.Seconds);
        Assert.Equal(100_000, request.MemoryRequests);
        Assert.Equal(4, request.SaturationQueue);
        Assert.Equal(3, request.OverheadRounds);
        Assert.Equal(32, request.MaxBatch);
        Assert.Equal(Path.ChangeExtension(model, ".int8.onnx"), request.Int8Model);
    }

    [Fact]
    public void Read_Defaults_AllFourConcurrencies_NoInt8WhereThereIsNone()
    {
        var (model, photos) = Files(withInt8: false);
        var serve = new ServeCommand();
        var request = serve.Read(serve.Command.Parse(["-m", model, "--photos", photos]), new List<string>());

        Assert.NotNull(request);
        Assert.Equal([1, 4, 16, 64], request.Concurrency);
        Assert.Null(request.Int8Model);
        Assert.Equal(64, request.SaturationQueue);   // two full batches of the default --max-batch 32
        Assert.Equal(30, request.OverheadRounds);
        Assert.True(request.MemoryRequests is > 0 and < 100_000);
    }

    [Fact]
    public void Read_WhatCannotRun_IsRefusedWithWhatToFix()
    {
        var (model, _) = Files(withInt8: false);
        var serve = new ServeCommand();
        var errors = new List<string>();
        var request = serve.Read(serve.Command.Parse(["--model", model, "--photos", Path.Combine(work.FullName, "none"), "--int8", Path.Combine(work.FullName, "missing.onnx"), "--concurrency", "0,4", "--memory-requests", "5", "--overhead-rounds", "-1"]), errors);

        Assert.Null(request);
        Assert.Contains(errors, e => e.StartsWith("--photos", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("--int8", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("--concurrency", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("--memory-requests", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("--overhead-rounds", StringComparison.Ordinal));
        Assert.Equal(5, errors.Count);
        Assert.Contains(serve.Command.Parse(["--model", model, "--photos", work.FullName, "--concurrency", "1,x"]).Errors, e => e.Message.Contains("--concurrency takes whole numbers", StringComparison.Ordinal));
    }

    [Fact]
    public void Help_EveryOptionIsDescribed_ServeIsABenchCommand()
    {
        var serve = new ServeCommand();

        Assert.All(serve.Command.Options, o => Assert.False(string.IsNullOrWhiteSpace(o.Description), o.Name));
        Assert.True(serve.Command.Options.Count >= 11);
        Assert.Contains(BenchCli.Build().Subcommands, c => c.Name == "serve");
    }

    [Fact]
    public void Of_Latencies_NearestRankPercentilesAndRates()
    {
        var accepted = Enumerable.Range(1, 100).Select(i => (double)(101 - i)).ToList();   // 100 .. 1 ms, unsorted on purpose
        var stats = LoadStats.Of(new LoadRun(accepted, [3, 1, 2], 1, "500: boom", Seconds: 4));

        Assert.Equal((50.0, 95.0, 99.0), (stats.P50, stats.P95, stats.P99));
        Assert.Equal(3.0, stats.RejectedP99);
        Assert.Equal(104 / 4.0, stats.RequestsPerSecond, 9);
        Assert.Equal(100 / 4.0, stats.ImagesPerSecond, 9);
    }

    [Fact]
    public void Goals_SyntheticFigures_EachRatioAgainstItsTarget()
    {
        var goals = ServeReport.Goals(Results(tensor64ImagesPerSecond: 89, pastP99: 50, rejectedP99: 12));

        // tensor: the worst row at 16+ (64: 89 images/s) against raw batch 32 (100): 0.89 < 0.9.
        Assert.Equal(("0.89 x", false), (goals[0].Figure, goals[0].Met));
        Assert.Contains("worst: 64", goals[0].Goal, StringComparison.Ordinal);
        // JPEG: 90 images/s against folder labelling's 100 files/s.
        Assert.Equal(("0.90 x", true), (goals[1].Figure, goals[1].Met));
        // Concurrency 1: the median of the rounds' latency less the server's own inference (0.5, 1.2, 0.3 ms), not the
        // latency less the raw run in the bench's process (0.6, 1.5, 0.7 ms), nor the load row's 0.8 ms.
        Assert.Equal(("0.50 ms", true), (goals[2].Figure, goals[2].Met));
        Assert.Contains("median of 3 rounds", goals[2].Goal, StringComparison.Ordinal);
        Assert.Equal(("12.0 ms", true), (goals[3].Figure, goals[3].Met));
        // Accepted p99 past saturation 50 ms against 20 ms just below it.
        Assert.Equal(("2.50 x", false), (goals[4].Figure, goals[4].Met));
        // Peak RSS 1000 -> 1040 MiB.
        Assert.Equal(("4.0%", true), (goals[5].Figure.Replace(" ", "", StringComparison.Ordinal), goals[5].Met));

        var better = ServeReport.Goals(Results(tensor64ImagesPerSecond: 95, pastP99: 30, rejectedP99: 60));
        Assert.Equal(("0.95 x", true), (better[0].Figure, better[0].Met));
        Assert.Equal([true, true, true, false, true, true], better.Select(g => g.Met));
    }

    [Fact]
    public void Goals_NothingRefusedOrNoRows_AreNotMeasuredRatherThanMet()
    {
        var results = Results(tensor64ImagesPerSecond: 95, pastP99: 30, rejectedP99: 0) with { Memory = null };
        results = results with { Saturation = results.Saturation! with { Past = results.Saturation.Past with { Rejected = 0 } } };
        var goals = ServeReport.Goals(results);
        Assert.Equal([true, true, true, null, null, null], goals.Select(g => g.Met));

        // A row meant to be below saturation that refused some is not below it: nothing to compare with.
        var busy = Results(tensor64ImagesPerSecond: 95, pastP99: 30, rejectedP99: 12);
        busy = busy with { Saturation = busy.Saturation! with { Below = busy.Saturation.Below with { Rejected = 3 } } };
        var busyGoals = ServeReport.Goals(busy);
        Assert.Equal([null, null], busyGoals.Skip(3).Take(2).Select(g => g.Met));
        Assert.Contains("already refused 3", busyGoals[4].Goal, StringComparison.Ordinal);

        Assert.Null(ServeReport.Goals(results with { Overhead = null })[2].Met);

        var light = ServeReport.Goals(results with { Rows = [.. results.Rows.Where(r => r.Concurrency < 16)] });
        Assert.Null(light[0].Met);
        Assert.Null(light[1].Met);
    }

    [Fact]
    public void Print_RowsSideBySide_GoalsWithTheirVerdicts()
    {
        using var output = new StringWriter();
        ServeReport.Print(Results(tensor64ImagesPerSecond: 89, pastP99: 50, rejectedP99: 12), output);
        var lines = output.ToString().Split('\n');

        Assert.Equal("== model.onnx ==", lines[0].TrimEnd());

        var row = Assert.Single(lines, l => l.StartsWith("tensor    64", StringComparison.Ordinal));
        Assert.Equal(["89.0", "89.0", "50.00", "60.00", "70.00", "0", "30.0", "40.0", "45.0", "48.0", "32", "100.0", "300.00"], row.Split([' ', '|'], StringSplitOptions.RemoveEmptyEntries)[2..]);
        Assert.Contains(lines, l => l.Contains("memory over 20,000 JPEG requests", StringComparison.Ordinal) && l.Contains("--memory-requests 100000", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("3 rounds: latency - the server's own inference (Server-Timing) median 0.50 ms (quartiles 0.30 to 1.20); latency 10.60 ms, server inference 10.10 ms, raw batch-1 run in alternation 10.00 ms (latency - raw: 0.70 ms)", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("--max-queue 64, tensor, concurrency 88: 950 accepted", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("--max-queue 64, tensor, 190.0 requests/s: 950 accepted", StringComparison.Ordinal) && l.Contains("500 answered 503", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("--max-queue 64, tensor, concurrency 256, each 503 resent at once: 400 accepted", StringComparison.Ordinal));
        Assert.Equal(2, lines.Count(l => l.TrimEnd().EndsWith("NOT MET", StringComparison.Ordinal)));
        Assert.Equal(4, lines.Count(l => l.TrimEnd().EndsWith(" met", StringComparison.Ordinal)));
    }

    private static LoadStats Stats(double imagesPerSecond, double p50, double p99 = 70, int rejected = 0, double rejectedP99 = double.NaN) =>
        new((int)(imagesPerSecond * 10), rejected, 0, 10, p50, p50 + 10, p99, rejectedP99);

    private static ServeResults Results(double tensor64ImagesPerSecond, double pastP99, double rejectedP99)
    {
        RawStats[] raw = [new(1, 95, 10), new(16, 98, 160), new(32, 100, 300)];
        var single = Stats(30, 40, 48) with { P95 = 45 };
        ServeRow[] rows =
        [
            new(RequestKind.Jpeg, 1, Stats(60, 16), single, raw[0]),
            new(RequestKind.Jpeg, 16, Stats(90, 170), single, raw[1]),
            new(RequestKind.Jpeg, 64, Stats(92, 600), single, raw[2]),
            new(RequestKind.Tensor, 1, Stats(90, 10.8), single, raw[0]),
            new(RequestKind.Tensor, 16, Stats(97, 165), single, raw[1]),
            new(RequestKind.Tensor, 64, Stats(tensor64ImagesPerSecond, 50), single, raw[2]),
        ];
        var saturation = new SaturationRun(64, 88, Stats(95, 10, p99: 20), 190, Stats(95, 12, p99: pastP99, rejected: 500, rejectedP99: rejectedP99), 256, Stats(40, 30, p99: 90, rejected: 9000, rejectedP99: 80));
        var overhead = new OverheadRun([new(10, 10.6, 10.1, 0.5), new(10.2, 11.7, 10.5, 1.2), new(9.9, 10.6, 9.8, 0.3)]);
        return new ServeResults("model.onnx", 32, raw, FolderRate: 100, rows, overhead, saturation, new MemoryRun(20_000, 2_000, 1000L << 20, 1040L << 20));
    }

    private (string Model, string Photos) Files(bool withInt8)
    {
        // Only their existence is read here; nothing is loaded.
        var model = Path.Combine(work.FullName, "model.onnx");
        File.WriteAllBytes(model, [0]);
        if (withInt8)
        {
            File.WriteAllBytes(Path.Combine(work.FullName, "model.int8.onnx"), [0]);
        }

        var photos = Directory.CreateDirectory(Path.Combine(work.FullName, "photos", "cat")).Parent!.FullName;
        File.WriteAllBytes(Path.Combine(photos, "cat", "1.jpg"), [0xFF, 0xD8]);
        return (model, photos);
    }
}
