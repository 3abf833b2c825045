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
            var files = Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories).Count();
            using var sampler = new MemorySampler(csv, files);
            sampler.Start();
            var clock = Stopwatch.StartNew();
            var code = await RealtimeApp.RunAsync(Settings(modelPath, threads, ("Source", folder), ("Batch", batch.ToString(CultureInfo.InvariantCulture)), ("Csv", csv)), CancellationToken.None);
            var elapsed = clock.Elapsed.TotalSeconds;
            var rows = File.Exists(csv) ? File.ReadLines(csv).Count() - 1 : 0;
            Console.WriteLine($"folder labelling (realtime --source {folder} --batch {batch}), exit {code}: {rows} files in {elapsed:F1} s = {rows / elapsed:F1} files/s, {rows / elapsed / raw:F2} x the raw model (includes model load, decode, resize, CSV)");
            static string Mib((long WorkingSet, long Managed) at) => $"{at.WorkingSet / 1048576.0:F0} MiB ({at.Managed / 1048576.0:F0} MiB managed)";
            Console.WriteLine($"process working set: {Mib(sampler.First)} at the first CSV row, {Mib(sampler.Half)} at half, {Mib(sampler.Late)} at 95 % of the files, peak {sampler.Peak / 1048576.0:F0} MiB");

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

    /// <summary>Samples the working set twice a second, noting it when labels.csv first has a row, half and 95 % of the files.</summary>
    private sealed class MemorySampler : IDisposable
    {
        private readonly string csv;
        private readonly int files;
        private readonly Timer timer;

        public MemorySampler(string csv, int files)
        {
            (this.csv, this.files) = (csv, files);
            timer = new Timer(_ => Sample(), null, Timeout.Infinite, Timeout.Infinite);
        }

        public (long WorkingSet, long Managed) First { get; private set; }

        public (long WorkingSet, long Managed) Half { get; private set; }

        public (long WorkingSet, long Managed) Late { get; private set; }

        public long Peak { get; private set; }

        public void Start() => timer.Change(TimeSpan.Zero, TimeSpan.FromMilliseconds(500));

        private void Sample()
        {
            var now = (Environment.WorkingSet, GC.GetTotalMemory(forceFullCollection: false));
            Peak = Math.Max(Peak, now.WorkingSet);
            var rows = File.Exists(csv) ? File.ReadLines(csv).Count() - 1 : 0;
            First = First.WorkingSet == 0 && rows > 0 ? now : First;
            Half = Half.WorkingSet == 0 && rows >= files / 2 ? now : Half;
            Late = Late.WorkingSet == 0 && rows >= files * 0.95 ? now : Late;
        }

        public void Dispose() => timer.Dispose();
    }
}
