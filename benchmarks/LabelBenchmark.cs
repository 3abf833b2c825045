using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using DogsVsCats.Vision.Realtime;
using DogsVsCats.Vision.Shared;
using Microsoft.ML.OnnxRuntime;

namespace DogsVsCats.Vision.Benchmarks;

/// <summary>
/// The realtime app's figures against the raw model: folder labelling images/s (decode, resize, inference, CSV) vs
/// ONNX Runtime alone on ready tensors at the same batch; process memory at the start and end of the folder run;
/// the live loop's capture-to-label latency on a video played as a camera.
/// </summary>
public static class LabelBenchmark
{
    public static async Task Run(string modelPath, string folder, int batch, string? video, double seconds, int threads)
    {
        var raw = RawRate(modelPath, batch, seconds, threads);
        Console.WriteLine($"raw model, ONNX Runtime alone on random uint8 tensors, batch {batch}: {raw:F1} images/s");

        var work = Directory.CreateTempSubdirectory("dogsvscats-bench-");
        try
        {
            var csv = Path.Combine(work.FullName, "labels.csv");
            using var sampler = new MemorySampler(csv);
            var clock = Stopwatch.StartNew();
            var code = await RealtimeApp.RunAsync(Settings(modelPath, threads, ("Source", folder), ("Batch", batch.ToString(CultureInfo.InvariantCulture)), ("Csv", csv)), CancellationToken.None);
            var elapsed = clock.Elapsed.TotalSeconds;
            var rows = File.Exists(csv) ? File.ReadLines(csv).Count() - 1 : 0;
            Console.WriteLine($"folder labelling (realtime --source {folder} --batch {batch}), exit {code}: {rows} files in {elapsed:F1} s = {rows / elapsed:F1} files/s, {rows / elapsed / raw:F2} x the raw model (includes model load, decode, resize, CSV)");
            Console.WriteLine($"process working set: {sampler.First / 1048576.0:F0} MiB at the first CSV row, {sampler.Last / 1048576.0:F0} MiB at the end, peak {sampler.Peak / 1048576.0:F0} MiB");

            if (video is not null)
            {
                var jsonl = Path.Combine(work.FullName, "frames.jsonl");
                code = await RealtimeApp.RunAsync(Settings(modelPath, threads, ("Source", video), ("RealtimePacing", "true"), ("NoWindow", "true"), ("Jsonl", jsonl), ("Duration", seconds.ToString(CultureInfo.InvariantCulture))), CancellationToken.None);
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

    private static Dictionary<string, string?> Settings(string modelPath, int threads, params (string Key, string Value)[] values)
    {
        var settings = new Dictionary<string, string?>
        {
            [$"{RealtimeOptions.Section}:Model"] = modelPath,
            [$"{RealtimeOptions.Section}:Threads"] = threads.ToString(CultureInfo.InvariantCulture),
        };
        foreach (var (key, value) in values)
        {
            settings[$"{RealtimeOptions.Section}:{key}"] = value;
        }

        return settings;
    }

    private static double RawRate(string modelPath, int batch, double seconds, int threads)
    {
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, IntraOpNumThreads = threads };
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

    /// <summary>Samples the working set twice a second; "first" is the first sample after labels.csv has a row.</summary>
    private sealed class MemorySampler : IDisposable
    {
        private readonly Timer timer;

        public MemorySampler(string csv) => timer = new Timer(_ => Sample(csv), null, TimeSpan.Zero, TimeSpan.FromMilliseconds(500));

        public long First { get; private set; }

        public long Last { get; private set; }

        public long Peak { get; private set; }

        public void Dispose()
        {
            timer.Dispose();
            Last = Environment.WorkingSet;
        }

        private void Sample(string csv)
        {
            var now = Environment.WorkingSet;
            Peak = Math.Max(Peak, now);
            if (First == 0 && File.Exists(csv) && File.ReadLines(csv).Skip(1).Any())
            {
                First = now;
            }
        }
    }
}
