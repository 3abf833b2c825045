using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using DogsVsCats.Vision.Shared;
using DogsVsCats.Vision.Shared.Inference;
using Microsoft.ML.OnnxRuntime;
using OpenCvSharp;

namespace DogsVsCats.Vision.Benchmarks;

/// <summary>What <c>bench label</c> was asked to measure.</summary>
internal sealed record LabelBenchmarkRequest
{
    public required string Model { get; init; }

    /// <summary>The int8 model measured after the float one; null: none.</summary>
    public string? Int8Model { get; init; }

    public required string Folder { get; init; }

    /// <summary>The folder's first photos labelled, in ordinal order; 0: all.</summary>
    public int Limit { get; init; }

    public int Batch { get; init; } = 32;

    /// <summary>Rounds per model: the raw model, then folder labelling, in turn.</summary>
    public int Rounds { get; init; } = 3;

    /// <summary>Times each labelling run goes through the folder (2: memory that leaks keeps rising in pass 2).</summary>
    public int Passes { get; init; } = 2;

    /// <summary>Video played as a camera for the live figures; null: no live run.</summary>
    public string? Video { get; init; }

    /// <summary>Seconds of the live run.</summary>
    public double Seconds { get; init; } = 10;

    public int Threads { get; init; }

    /// <summary>The threads ONNX Runtime runs on: <see cref="Threads"/>, or every core for 0 (as ModelRunner reads it).</summary>
    public int OrtThreads => Threads > 0 ? Threads : Environment.ProcessorCount;
}

/// <summary>
/// The realtime app's figures against the raw model: folder labelling files/s (decode, resize, inference, CSV) vs
/// ONNX Runtime alone on the same photos, already resized, at the same batch; the app's memory over the passes of one
/// run; the live loop's capture-to-label latency on a video played as a camera. The app runs as its own process
/// (realtime.dll beside bench), as a user runs it, so its memory and process-wide settings are its own.
/// The two sides take turns for <see cref="LabelBenchmarkRequest.Rounds"/> rounds, each on as many images as the
/// labelling run labels, so a slow spell of a shared machine hits both sides of a ratio: each round's ratio is printed,
/// then the median of the rounds' ratios with their range. One raw-model window beside one labelling run moved the ratio
/// between 0.87 and 1.03 x within the hour, while the labelling rate held within 1 %.
/// </summary>
internal static class LabelBenchmark
{
    public static async Task<int> Run(LabelBenchmarkRequest request)
    {
        var photos = Directory.EnumerateFiles(request.Folder, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal).Take(request.Limit > 0 ? request.Limit : int.MaxValue).ToList();
        var work = Directory.CreateTempSubdirectory("dogsvscats-bench-");
        try
        {
            // The passes over the same photos in one run (one process, one ONNX Runtime session): memory that only
            // warms up stops rising in pass 1; memory that leaks keeps rising in pass 2.
            var source = Path.Combine(work.FullName, "photos");
            var linked = LinkPasses(request.Folder, photos, source, request.Passes);
            var files = photos.Count * request.Passes;
            Console.WriteLine($"ONNX Runtime {OrtEnv.Instance().GetVersionString()} CPU, {request.OrtThreads} threads, {Environment.ProcessorCount} cores; batch {request.Batch}; {request.Rounds} round(s) per model, each the raw model on {files} images (ONNX Runtime alone, the folder's first photos resized by the shared rule) then folder labelling (realtime --source <{photos.Count} photos of {request.Folder}{(request.Passes > 1 ? $", {request.Passes} times" : "")}{(linked ? "" : ", copied")}> --batch {request.Batch}) at the rate of its summary line (its labelling loop: decode, resize, inference, CSV; not process start and model load).");
            foreach (var model in new[] { request.Model, request.Int8Model }.OfType<string>())
            {
                Console.WriteLine();
                Console.WriteLine($"{Path.GetFileName(model)}:");
                if (!await Measure(model, photos, source, work.FullName, files, request))
                {
                    return ExitCodes.Failure;
                }
            }

            return ExitCodes.Ok;
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    /// <summary>The median of the rounds' ratios with their range, "0.97 x (0.95-0.99)"; one round, its ratio alone (bench backbones words its ratios the same way).</summary>
    public static string Ratio(IReadOnlyList<double> ratios) =>
        ratios.Count == 1
            ? string.Create(CultureInfo.InvariantCulture, $"{ratios[0]:F2} x")
            : string.Create(CultureInfo.InvariantCulture, $"{Statistics.Median(ratios):F2} x ({ratios.Min():F2}-{ratios.Max():F2})");

    /// <summary>
    /// The most folder labelling can reach against the raw model where ONNX Runtime's threads keep every core busy: the
    /// photos' decoding and resize is work on top of inference, inference / (inference + preprocessing), both in core-ms
    /// a photo. Only time inference leaves idle could hide it, and threads that spin leave none.
    /// </summary>
    public static double DecodingBound(double inferenceCoreMs, double preprocessingCoreMs)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inferenceCoreMs);
        ArgumentOutOfRangeException.ThrowIfNegative(preprocessingCoreMs);
        return inferenceCoreMs / (inferenceCoreMs + preprocessingCoreMs);
    }

    /// <summary>One model's rounds, memory and live figures; false when the app failed.</summary>
    private static async Task<bool> Measure(string model, List<string> photos, string source, string work, int files, LabelBenchmarkRequest request)
    {
        List<byte[]> pixels;
        double preprocessingMs;
        using (var runner = new ModelRunner(model, request.Threads))
        {
            pixels = [.. photos.Where(ImageFile.IsImagePath).Take(request.Batch).Select(p => ServeBenchmark.Resized(File.ReadAllBytes(p), runner.Description))];
            preprocessingMs = Preprocessing(photos, runner.Description.InputWidth, runner.Description.InputHeight);
        }

        var ratios = new List<double>();
        var raws = new List<double>();
        var csv = Path.Combine(work, "labels.csv");
        MemorySampler? memory = null;
        try
        {
            for (var round = 1; round <= request.Rounds; round++)
            {
                double raw;
                using (var runner = new ModelRunner(model, request.Threads))
                {
                    raw = ServeBenchmark.Raw(runner, pixels, request.Batch, files, double.PositiveInfinity).ImagesPerSecond;
                }

                File.Delete(csv);   // each round labels every file again
                memory?.Dispose();
                memory = new MemorySampler(csv, photos.Count, request.Passes);
                var (code, output) = await Realtime(model, request.Threads, memory, "--source", source, "--batch", Text(request.Batch), "--csv", csv, "--device", "cpu");
                var summary = ServeBenchmark.SummaryRate().Match(output);
                if (code != ExitCodes.Ok || !summary.Success)
                {
                    Console.Error.WriteLine($"error: folder labelling exited {code} without its summary line.");
                    return false;
                }

                var rate = double.Parse(summary.Groups["rate"].Value, CultureInfo.InvariantCulture);
                ratios.Add(rate / raw);
                raws.Add(raw);
                Console.WriteLine($"  round {round}: raw model {raw:F1} images/s, folder labelling {rate:F1} files/s, {rate / raw:F2} x");
            }

            Console.WriteLine($"  folder labelling against the raw model, median of {ratios.Count} round(s): {Ratio(ratios)}");
            if (request.OrtThreads >= Environment.ProcessorCount)
            {
                var inferenceMs = request.OrtThreads * 1000 / Statistics.Median(raws);
                Console.WriteLine($"  decoding's bound, as ONNX Runtime's threads keep every core busy: {DecodingBound(inferenceMs, preprocessingMs):F3} x (a photo's inference {inferenceMs:F1} core-ms at the raw model's median rate, its decoding and resize {preprocessingMs:F2} more; a median above it is the machine's noise)");
            }
            // A point the app passed between two samples (a short pass) has no figure: "-".
            static string Mib(long bytes) => bytes == 0 ? "-" : $"{bytes / 1048576.0:F0}";
            string Pass(int pass) => string.Join(", ", MemorySampler.Fractions.Select(f => $"{f:P0} {Mib(memory!.At(pass, f))}"));
            var passes = string.Join("; ", Enumerable.Range(0, request.Passes).Select(p => $"pass {p + 1} at {Pass(p)}"));
            var change = "";
            if (request.Passes >= 2)
            {
                var before = memory!.At(request.Passes - 2, MemorySampler.Fractions[^1]);
                var after = memory.At(request.Passes - 1, MemorySampler.Fractions[^1]);
                change = $"; change over pass {request.Passes} " + (before == 0 || after == 0 ? "not sampled" : $"{(after - before) / 1048576.0:+0;-0;0} MiB");
            }
            Console.WriteLine($"  realtime process working set in round {request.Rounds}, MiB: first row {Mib(memory!.First)}; {passes}{change}; peak {Mib(memory.Peak)}");
        }
        finally
        {
            memory?.Dispose();
        }

        if (request.Video is not null)
        {
            var jsonl = Path.Combine(work, "frames.jsonl");
            File.Delete(jsonl);
            var (code, _) = await Realtime(model, request.Threads, null, "--source", request.Video, "--realtime-pacing", "--no-window", "--jsonl", jsonl, "--duration", request.Seconds.ToString(CultureInfo.InvariantCulture));
            var frames = File.ReadLines(jsonl).Select(l => JsonDocument.Parse(l).RootElement).ToList();
            var latencies = frames.Select(f => f.GetProperty("latency_ms").GetDouble()).Order().ToArray();
            var inference = frames.Select(f => f.GetProperty("timings_ms").GetProperty("inference").GetDouble()).Order().ToArray();
            Console.WriteLine($"  live ({Path.GetFileName(request.Video)} played as a camera, {request.Seconds:F0} s), exit {code}: {frames.Count} frames labelled, {frames[^1].GetProperty("dropped").GetInt64()} dropped; capture-to-label latency median {latencies[latencies.Length / 2]:F0} ms, p95 {latencies[(int)(latencies.Length * 0.95)]:F0} ms; inference median {inference[inference.Length / 2]:F0} ms");
        }

        return true;
    }

    /// <summary>
    /// What preprocessing costs a photo on one thread, in 3 rounds (the median printed): decoding, then the shared
    /// resize (ImagePreprocessing) against OpenCV's own INTER_AREA on the same crop, with how many bytes differ.
    /// Returns the median decoding plus the median shared resize, in ms a photo.
    /// </summary>
    private static double Preprocessing(List<string> photos, int width, int height)
    {
        var decoded = photos.Where(ImageFile.IsImagePath).Take(640).Select(File.ReadAllBytes).ToList();
        using var shared = new Mat(height, width, MatType.CV_8UC3);
        using var opencv = new Mat(height, width, MatType.CV_8UC3);
        var (decode, ours, theirs) = (new List<double>(), new List<double>(), new List<double>());
        var differ = 0L;
        for (var round = 0; round < 3; round++)
        {
            var (d, a, b) = (0L, 0L, 0L);
            foreach (var bytes in decoded)
            {
                var start = Stopwatch.GetTimestamp();
                if (!ImageFile.TryDecode(bytes, long.MaxValue, out var image, out _))
                {
                    continue;
                }

                using (image)
                {
                    var decodedAt = Stopwatch.GetTimestamp();
                    ImagePreprocessing.ResizeInto(image, shared, width, height);
                    var resizedAt = Stopwatch.GetTimestamp();
                    using var region = new Mat(image, ImagePreprocessing.CropRegion(image.Width, image.Height, width, height));
                    Cv2.Resize(region, opencv, new Size(width, height), 0, 0, InterpolationFlags.Area);
                    (d, a, b) = (d + (decodedAt - start), a + (resizedAt - decodedAt), b + (Stopwatch.GetTimestamp() - resizedAt));
                    if (round == 0)
                    {
                        differ += DifferentValues(shared, opencv);
                    }
                }
            }

            static double Ms(long ticks, int count) => ticks * 1000.0 / Stopwatch.Frequency / count;
            (decode, ours, theirs) = ([.. decode, Ms(d, decoded.Count)], [.. ours, Ms(a, decoded.Count)], [.. theirs, Ms(b, decoded.Count)]);
        }

        Console.WriteLine($"  preprocessing per photo, one thread, {decoded.Count} photos, median of 3 rounds: decode {Statistics.Median(decode):F3} ms; resize to {width}x{height} {Statistics.Median(ours):F3} ms, OpenCV's INTER_AREA {Statistics.Median(theirs):F3} ms ({Statistics.Median(theirs) / Statistics.Median(ours):F2} x); bytes that differ: {differ}");
        return Statistics.Median(decode) + Statistics.Median(ours);
    }

    /// <summary>How many of two images' values (pixels x channels) differ.</summary>
    private static int DifferentValues(Mat a, Mat b)
    {
        using var difference = new Mat();
        Cv2.Absdiff(a, b, difference);
        using var values = difference.Reshape(1);
        return Cv2.CountNonZero(values);
    }

    private static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>Runs the realtime app as a child process, sampling its memory when asked; its exit code and standard output.</summary>
    internal static async Task<(int ExitCode, string Output)> Realtime(string modelPath, int threads, MemorySampler? sampler, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { Path.Combine(AppContext.BaseDirectory, "realtime.dll"), "--model", modelPath, "--threads", threads.ToString(CultureInfo.InvariantCulture) }.Concat(args))
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("could not start dotnet realtime.dll");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        sampler?.Start(process);
        await process.WaitForExitAsync();
        sampler?.Stop();
        await Task.WhenAll(output, error);
        if (process.ExitCode != 0)
        {
            Console.Error.WriteLine(error.Result);
        }

        return (process.ExitCode, output.Result);
    }

    /// <summary>
    /// Every photo once per pass, as pass-1/..., pass-2/... under <paramref name="root"/> (the app labels in ordinal
    /// order, so pass 1 comes first): symbolic links, or copies where the system allows no links. True when linked.
    /// </summary>
    private static bool LinkPasses(string folder, List<string> photos, string root, int passes)
    {
        var linked = true;
        foreach (var pass in Enumerable.Range(1, passes).Select(p => $"pass-{p}"))
        {
            foreach (var photo in photos)
            {
                var link = Path.Combine(root, pass, Path.GetRelativePath(folder, photo));
                Directory.CreateDirectory(Path.GetDirectoryName(link)!);
                try
                {
                    if (linked)
                    {
                        File.CreateSymbolicLink(link, Path.GetFullPath(photo));
                        continue;
                    }
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    linked = false;
                }

                File.Copy(photo, link);
            }
        }

        return linked;
    }

    /// <summary>
    /// Samples the app's working set every 100 ms against the rows in labels.csv (counted as they are appended), keeping
    /// the first sample at or past each checkpoint: the first row, then fractions of each of <c>passes</c> passes.
    /// </summary>
    internal sealed class MemorySampler : IDisposable
    {
        public static readonly double[] Fractions = [0.1, 0.5, 0.95];

        private readonly string csv;
        private readonly int perPass;
        private readonly Timer timer;
        private readonly Lock gate = new();
        private readonly long[,] at;
        private Process? process;
        private FileStream? reader;
        private long rows = -1;   // the header line is not a row

        public MemorySampler(string csv, int perPass, int passes)
        {
            (this.csv, this.perPass, at) = (csv, perPass, new long[passes, Fractions.Length]);
            timer = new Timer(_ => Sample(), null, Timeout.Infinite, Timeout.Infinite);
        }

        public long First { get; private set; }

        public long Peak { get; private set; }

        public long At(int pass, double fraction) => at[pass, Array.IndexOf(Fractions, fraction)];

        public void Start(Process app)
        {
            process = app;
            timer.Change(TimeSpan.Zero, TimeSpan.FromMilliseconds(100));
        }

        public void Stop()
        {
            timer.Change(Timeout.Infinite, Timeout.Infinite);
            lock (gate)
            {
                process = null;
                reader?.Dispose();
                reader = null;
            }
        }

        public void Dispose()
        {
            Stop();
            timer.Dispose();
        }

        private void Sample()
        {
            lock (gate)
            {
                if (process is null)
                {
                    return;
                }

                if (reader is null && File.Exists(csv))
                {
                    reader = new FileStream(csv, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
                }

                if (reader is null)
                {
                    return;
                }

                Span<byte> buffer = stackalloc byte[8192];
                for (var read = reader.Read(buffer); read > 0; read = reader.Read(buffer))
                {
                    rows += buffer[..read].Count((byte)'\n');
                }

                long now;
                try
                {
                    process.Refresh();
                    now = process.WorkingSet64;
                }
                catch (InvalidOperationException)
                {
                    return;   // it has just exited
                }

                if (rows <= 0 || now == 0)
                {
                    return;
                }

                Peak = Math.Max(Peak, now);
                First = First == 0 ? now : First;
                for (var pass = 0; pass < at.GetLength(0); pass++)
                {
                    for (var i = 0; i < Fractions.Length; i++)
                    {
                        if (at[pass, i] == 0 && rows >= (pass + Fractions[i]) * perPass)
                        {
                            at[pass, i] = now;
                        }
                    }
                }
            }
        }
    }
}
