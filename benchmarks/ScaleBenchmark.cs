using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using DogsVsCats.Vision.Trainer.Data;
using DogsVsCats.Vision.Trainer.Models;
using DogsVsCats.Vision.Trainer.Reporting;
using DogsVsCats.Vision.Trainer.Results;

namespace DogsVsCats.Vision.Benchmarks;

/// <summary>
/// Whether the trainer's memory and time per photo stay flat as the dataset grows: for each count, a folder of that
/// many photos (symbolic links repeating the given ones under distinct names, cat/ and dog/) is trained with
/// <c>features</c> and with one <c>frozen</c> epoch, each as its own trainer process, so each count's peak working
/// set is its own. Decoding alone is measured beside, to show it keeps up with the forward pass.
/// </summary>
internal static class ScaleBenchmark
{
    public static int Run(string photos, IReadOnlyList<int> counts, int decodeThreads)
    {
        var split = DatasetScanner.Scan(photos);
        var byClass = split.Classes
            .Select((name, label) => (name, Files: split.Train.Concat(split.Validation).Where(f => f.Label == label).Select(f => f.Path).Order(StringComparer.Ordinal).ToList()))
            .ToList();
        var root = Path.Combine(Path.GetTempPath(), $"dogsvscats-scale-{Guid.NewGuid():N}");
        Directory.CreateDirectory(root);
        try
        {
            // The size the trainer's runs below use: the default backbone at its default size.
            var size = Backbones.DefaultImageSize(BackboneSpec.Default.Name);
            var decodeRate = DecodeRate(byClass.SelectMany(c => c.Files.Take(240)).ToList(), decodeThreads, size);
            Console.WriteLine($"decode + resize alone (trainer's PrefetchDecoder, {(decodeThreads > 0 ? decodeThreads : Environment.ProcessorCount)} threads, {size}x{size}): {decodeRate:F1} img/s");
            var rows = new List<Row>();
            foreach (var count in counts)
            {
                var data = Path.Combine(root, $"data-{count}");
                Link(byClass, data, count);
                var features = Trainer(root, data, count, "features", decodeThreads);
                var frozen = Trainer(root, data, count, "frozen", decodeThreads);
                var extraction = Phases(features, p => p.Phase.StartsWith("extract ", StringComparison.Ordinal));
                var epoch = Phases(frozen, p => p.Phase == "train");
                var row = new Row(count, Math.Max(features.PeakBytes, frozen.PeakBytes), features.PeakBytes, frozen.PeakBytes, extraction, epoch);
                rows.Add(row);
                Console.WriteLine($"{count} photos: peak {Mib(row.Peak)} MiB (features run {Mib(row.FeaturesPeak)}, frozen run {Mib(row.FrozenPeak)}); extraction {extraction.ImagesPerSecond:F1} img/s, frozen epoch {epoch.ImagesPerSecond:F1} img/s");
                Directory.Delete(data, recursive: true);
            }

            Console.WriteLine();
            Console.WriteLine($"| photos | peak working set (MiB) | extraction (ms/photo) | frozen epoch (ms/photo) | extraction img/s | decode alone img/s |");
            Console.WriteLine("|---:|---:|---:|---:|---:|---:|");
            foreach (var row in rows)
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {row.Count:N0} | {Mib(row.Peak)} | {1000 / row.Extraction.ImagesPerSecond:F1} | {1000 / row.Epoch.ImagesPerSecond:F1} | {row.Extraction.ImagesPerSecond:F1} | {decodeRate:F1} |"));
            }

            if (rows.Count > 1)
            {
                var (first, last) = (rows[0], rows[^1]);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{first.Count:N0} -> {last.Count:N0} photos: peak {Mib(last.Peak - first.Peak):+0;-0;0} MiB (goal < 150); time per photo x{first.Extraction.ImagesPerSecond / last.Extraction.ImagesPerSecond:F2} extraction, x{first.Epoch.ImagesPerSecond / last.Epoch.ImagesPerSecond:F2} frozen epoch (goal within 10 %)"));
            }

            return 0;
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private sealed record Row(int Count, long Peak, long FeaturesPeak, long FrozenPeak, PhaseTiming Extraction, PhaseTiming Epoch);

    private sealed record ChildRun(RunReport Report, long PeakBytes);

    private static long Mib(long bytes) => bytes / (1024 * 1024);

    /// <summary>Images/s of one pass over <paramref name="files"/> through the decoder training uses, after a short warm-up.</summary>
    private static double DecodeRate(List<string> files, int threads, int size)
    {
        var set = ImageLoader.Check([.. files.Select(p => new LabeledFile(p, 0))], size, size, new SkipLog());
        using var decoder = new PrefetchDecoder(threads);
        foreach (var _ in decoder.Read(set, [.. Enumerable.Range(0, Math.Min(16, set.Count))], 16))
        {
        }

        var clock = Stopwatch.StartNew();
        var decoded = 0;
        foreach (var batch in decoder.Read(set, [.. Enumerable.Range(0, set.Count)], 16))
        {
            decoded += batch.Count;
        }

        return decoded / clock.Elapsed.TotalSeconds;
    }

    /// <summary><paramref name="count"/> links, half per class (cat/cat.000000.jpg ...), cycling through each class's photos.</summary>
    private static void Link(List<(string Name, List<string> Files)> byClass, string data, int count)
    {
        for (var c = 0; c < byClass.Count; c++)
        {
            var (name, files) = byClass[c];
            var folder = Path.Combine(data, name);
            Directory.CreateDirectory(folder);
            var perClass = (count / byClass.Count) + (c < count % byClass.Count ? 1 : 0);
            for (var i = 0; i < perClass; i++)
            {
                var target = files[i % files.Count];
                File.CreateSymbolicLink(Path.Combine(folder, $"{name}.{i:D6}{Path.GetExtension(target)}"), Path.GetFullPath(target));
            }
        }
    }

    /// <summary>Runs <c>trainer train</c> (beside bench) with a fresh feature cache and one epoch, sampling its peak (VmHWM).</summary>
    private static ChildRun Trainer(string root, string data, int count, string strategy, int decodeThreads)
    {
        var runs = Path.Combine(root, $"runs-{count}-{strategy}");
        string[] args =
        [
            Path.Combine(AppContext.BaseDirectory, "trainer.dll"), "train", "--data", data, "--strategy", strategy, "--epochs", "1",
            "--cache-dir", Path.Combine(root, $"cache-{count}-{strategy}"), "--out", runs,
            "--decode-threads", decodeThreads.ToString(CultureInfo.InvariantCulture),
            // The training is measured: no mirrored validation pass, no scoring of the exported file afterwards.
            "--tta", "none", "--export", "winner", "--report-photos", "none",
        ];
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        var clock = Stopwatch.StartNew();
        using var process = Process.Start(start) ?? throw new InvalidOperationException("could not start dotnet trainer.dll");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        long peak = 0;
        while (!process.WaitForExit(200))
        {
            peak = Math.Max(peak, PeakOf(process));
        }

        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"trainer train --strategy {strategy} on {count} photos exited {process.ExitCode}:\n{output.Result}\n{error.Result}");
        }

        Console.WriteLine($"  {strategy} on {count} photos: {clock.Elapsed.TotalSeconds:F0} s");
        var report = Directory.EnumerateFiles(runs, ReportWriter.JsonFile, SearchOption.AllDirectories).Single();
        return new ChildRun(JsonSerializer.Deserialize<RunReport>(File.ReadAllText(report), ReportWriter.JsonOptions)!, peak);
    }

    /// <summary>The process's peak working set so far (on Linux the kernel's own high-water mark, VmHWM: no peak between samples is missed).</summary>
    private static long PeakOf(Process process)
    {
        try
        {
            process.Refresh();
            return process.PeakWorkingSet64;
        }
        catch (InvalidOperationException)
        {
            return 0;   // it has just exited
        }
    }

    private static PhaseTiming Phases(ChildRun run, Func<PhaseTiming, bool> which)
    {
        var phases = run.Report.Strategies.Single().Phases.Where(which).ToList();
        return new PhaseTiming(string.Join(" + ", phases.Select(p => p.Phase)), phases.Sum(p => p.Seconds), phases.Sum(p => p.Images));
    }
}
