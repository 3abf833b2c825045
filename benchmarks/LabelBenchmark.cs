using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using DogsVsCats.Vision.Shared;
using Microsoft.ML.OnnxRuntime;

namespace DogsVsCats.Vision.Benchmarks;

/// <summary>
/// The realtime app's figures against the raw model: folder labelling images/s (decode, resize, inference, CSV) vs
/// ONNX Runtime alone on ready tensors at the same batch; the app's memory over two passes of the folder in one run;
/// the live loop's capture-to-label latency on a video played as a camera. The app runs as its own process
/// (realtime.dll beside bench), as a user runs it, so its memory and process-wide settings are its own.
/// </summary>
internal static class LabelBenchmark
{
    public static async Task Run(string modelPath, string folder, int batch, string? video, double seconds, int threads)
    {
        var raw = RawRate(modelPath, batch, seconds, threads);
        Console.WriteLine($"raw model, ONNX Runtime alone on random uint8 tensors, batch {batch}: {raw:F1} images/s");

        var work = Directory.CreateTempSubdirectory("dogsvscats-bench-");
        try
        {
            // Two passes over the same photos in one run (one process, one ONNX Runtime session): memory that only
            // warms up stops rising in pass 1; memory that leaks keeps rising in pass 2.
            var photos = Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToList();
            var twice = Path.Combine(work.FullName, "photos");
            var linked = LinkTwice(folder, photos, twice);
            var csv = Path.Combine(work.FullName, "labels.csv");
            using var sampler = new MemorySampler(csv, photos.Count);
            var clock = Stopwatch.StartNew();
            var (code, _) = await Realtime(modelPath, threads, sampler, "--source", twice, "--batch", batch.ToString(CultureInfo.InvariantCulture), "--csv", csv);
            var elapsed = clock.Elapsed.TotalSeconds;
            var rows = File.Exists(csv) ? File.ReadLines(csv).Count() - 1 : 0;
            Console.WriteLine($"folder labelling (realtime --source <{photos.Count} photos of {folder}, twice{(linked ? "" : ", copied")}> --batch {batch}), exit {code}: {rows} files in {elapsed:F1} s = {rows / elapsed:F1} files/s, {rows / elapsed / raw:F2} x the raw model (includes process start, model load, decode, resize, CSV)");
            static string Mib(long bytes) => $"{bytes / 1048576.0:F0}";
            string Pass(int pass) => string.Join(", ", MemorySampler.Fractions.Select(f => $"{f:P0} {Mib(sampler.At(pass, f))}"));
            var change = (sampler.At(1, MemorySampler.Fractions[^1]) - sampler.At(0, MemorySampler.Fractions[^1])) / 1048576.0;
            Console.WriteLine($"realtime process working set, MiB: first row {Mib(sampler.First)}; pass 1 at {Pass(0)}; pass 2 at {Pass(1)}; change over pass 2 {change:+0;-0;0} MiB; peak {Mib(sampler.Peak)}");

            if (video is not null)
            {
                var jsonl = Path.Combine(work.FullName, "frames.jsonl");
                (code, _) = await Realtime(modelPath, threads, null, "--source", video, "--realtime-pacing", "--no-window", "--jsonl", jsonl, "--duration", seconds.ToString(CultureInfo.InvariantCulture));
                var frames = File.ReadLines(jsonl).Select(l => JsonDocument.Parse(l).RootElement).ToList();
                var latencies = frames.Select(f => f.GetProperty("latency_ms").GetDouble()).Order().ToArray();
                var inference = frames.Select(f => f.GetProperty("timings_ms").GetProperty("inference").GetDouble()).Order().ToArray();
                Console.WriteLine($"live ({Path.GetFileName(video)} played as a camera, {seconds:F0} s), exit {code}: {frames.Count} frames labelled, {frames[^1].GetProperty("dropped").GetInt64()} dropped; capture-to-label latency median {latencies[latencies.Length / 2]:F0} ms, p95 {latencies[(int)(latencies.Length * 0.95)]:F0} ms; inference median {inference[inference.Length / 2]:F0} ms");
            }
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

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

    private static double RawRate(string modelPath, int batch, double seconds, int threads)
    {
        // The same threads as the app's Classifier: 0 = every logical core.
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, IntraOpNumThreads = threads > 0 ? threads : Environment.ProcessorCount };
        using var session = new InferenceSession(modelPath, options);
        var description = ModelDescription.FromProperties(session.ModelMetadata.CustomMetadataMap, modelPath);
        var pixels = new byte[batch * description.InputHeight * description.InputWidth * 3];
        new Random(1).NextBytes(pixels);
        using var input = OrtValue.CreateTensorValueFromMemory(pixels, [batch, description.InputHeight, description.InputWidth, 3]);
        using var runOptions = new RunOptions();
        string[] inputNames = [ModelContract.InputName];
        string[] outputNames = [ModelContract.ProbabilitiesName, ModelContract.CamName];
        void Once()
        {
            using var outputs = session.Run(runOptions, inputNames, [input], outputNames);
        }

        Once();
        var clock = Stopwatch.StartNew();
        var runs = 0;
        while (clock.Elapsed.TotalSeconds < seconds || runs < 3)
        {
            Once();
            runs++;
        }

        return runs * batch / clock.Elapsed.TotalSeconds;
    }

    /// <summary>
    /// Every photo twice, as pass-1/... and pass-2/... under <paramref name="root"/> (the app labels in ordinal order, so
    /// pass 1 comes first): symbolic links, or copies where the system allows no links. True when linked.
    /// </summary>
    private static bool LinkTwice(string folder, List<string> photos, string root)
    {
        var linked = true;
        foreach (var pass in new[] { "pass-1", "pass-2" })
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
    /// the first sample at or past each checkpoint: the first row, then fractions of each pass.
    /// </summary>
    internal sealed class MemorySampler : IDisposable
    {
        public static readonly double[] Fractions = [0.1, 0.5, 0.95];

        private readonly string csv;
        private readonly int perPass;
        private readonly Timer timer;
        private readonly Lock gate = new();
        private readonly long[,] at = new long[2, Fractions.Length];
        private Process? process;
        private FileStream? reader;
        private long rows = -1;   // the header line is not a row

        public MemorySampler(string csv, int perPass)
        {
            (this.csv, this.perPass) = (csv, perPass);
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
                for (var pass = 0; pass < 2; pass++)
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
