using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using DogsVsCats.Vision.Shared;
using DogsVsCats.Vision.Trainer.Data;
using DogsVsCats.Vision.Trainer.Export;
using DogsVsCats.Vision.Trainer.Models;
using DogsVsCats.Vision.Trainer.Strategies;
using DogsVsCats.Vision.Trainer.Training;
using Microsoft.ML.OnnxRuntime;
using TorchSharp;
using static TorchSharp.torch;

namespace DogsVsCats.Vision.Benchmarks;

/// <summary>What <c>bench backbones</c> was asked to measure.</summary>
internal sealed record BackboneBenchmarkRequest
{
    public required IReadOnlyList<string> Backbones { get; init; }

    public int Batch { get; init; } = 16;

    public double Seconds { get; init; } = 6;

    public int Threads { get; init; }

    /// <summary>Real photos to decode and feed (random pixels without); the peer needs them.</summary>
    public string? Photos { get; init; }

    /// <summary>Runs PyTorch eager (tools/peer_benchmark.py) on the same photos after each backbone, and prints ratios.</summary>
    public bool Peer { get; init; }

    public string Python { get; init; } = File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";

    /// <summary>Where the frozen layers run, as <c>trainer train --frozen-engine</c>.</summary>
    public FrozenEngine FrozenEngine { get; init; } = FrozenEngine.Auto;

    /// <summary>The finetune step's number format through the last stage, as <c>trainer train --precision</c>.</summary>
    public TrainingPrecision Precision { get; init; } = TrainingPrecision.Auto;

    /// <summary>Photos decoded for the decode figure.</summary>
    public int DecodeCount { get; init; } = 256;

    /// <summary>Also profiles the exported model in ONNX Runtime: operators' time shares and the convolutions' GFLOP/s.</summary>
    public bool Profile { get; init; }

    /// <summary>Times each figure is measured, the trainer's and the peer's alternately; medians are printed.</summary>
    public int Rounds { get; init; } = 3;
}

/// <summary>
/// What each backbone costs, on this machine: decoding, TorchSharp forward (the features strategy's extraction), a
/// frozen step (frozen backbone forward, head backward, SGD), a finetune step (forward, backward through the last
/// stage, SGD), and the exported model on ONNX Runtime (the realtime app). Weights are random: speed does not depend
/// on their values, so no weights file is needed. With <c>--peer</c>, PyTorch eager does the same work on the same
/// photos right after, and each figure is printed with its ratio: figures from one run on one machine, not absolute
/// times, are what compare.
/// </summary>
internal static class BackboneBenchmark
{
    /// <summary>The figures, in the order they are printed; the PyTorch peer names them the same way.</summary>
    private static readonly string[] Figures = ["decode", "features", "frozen", "finetune"];

    public static int Run(BackboneBenchmarkRequest request)
    {
        var cores = request.Threads > 0 ? request.Threads : Environment.ProcessorCount;
        set_num_threads(cores);
        var photos = request.Photos is null ? [] : PhotoFiles(request.Photos);
        if (request.Photos is not null && photos.Count < request.Batch)
        {
            Console.Error.WriteLine($"error: --photos '{request.Photos}' holds {photos.Count} photos; at least --batch {request.Batch} are needed.");
            return ExitCodes.BadInput;
        }

        var precision = TrainingPrecisions.Resolve(request.Precision, CPU, TrainingPrecisions.CpuHasBFloat16);
        Console.WriteLine($"Frozen layers on {FrozenPart.Resolve(request.FrozenEngine, CPU)}, training layers on TorchSharp (finetune step in {TrainingPrecisions.Name(precision)}); ONNX Runtime {OrtEnv.Instance().GetVersionString()} CPU, {cores} threads, {Environment.ProcessorCount} cores; batch {request.Batch}; {request.Seconds:F0} s per figure after warm-up, median of {request.Rounds} round(s){(request.Peer ? ", the trainer's and PyTorch's in turn" : string.Empty)}; random weights; {(photos.Count > 0 ? $"pixels of real photos from {request.Photos}" : "random pixels")}.");
        var rows = new List<string[]>();
        var profiles = new List<string>();
        double? reference = null;
        foreach (var name in request.Backbones)
        {
            var info = Backbones.Describe(name);
            manual_seed(1);
#pragma warning disable CA2000 // the backbone and head become modules of the model, which disposes them
            using var model = new TransferModel(Backbones.Architecture(name), new ClassifierHead(info.FeatureChannels, 2));
#pragma warning restore CA2000
            var files = photos.Take(Math.Max(request.DecodeCount, request.Batch)).Select(p => new LabeledFile(p, 0)).ToList();
            using var input = Input(info, files, request);

            // Rounds alternate the trainer and the peer, so that a slow spell on a shared machine hits both sides of a
            // ratio alike; each figure is the median over rounds, each ratio the median of the rounds' own ratios.
            var ours = new List<Dictionary<string, double>>();
            var theirs = new List<Dictionary<string, double>>();
            for (var round = 0; round < request.Rounds; round++)
            {
                ours.Add(Measure(model, info, files, input, request, precision, cores));
                theirs.Add(request.Peer ? PeerFigures(name, request, cores) : []);
            }

            var (onnx1, onnxBatch, profile) = Onnx(model, info, request.Batch, request.Seconds, cores, request.Profile);
            if (profile is not null)
            {
                profiles.Add($"{name}, exported model on ONNX Runtime, batch {request.Batch}: {profile.Describe(request.Batch)}.");
            }

            var features = Statistics.Median(ours.Select(r => r["features"]));
            reference ??= features;
            foreach (var figure in Figures.Where(ours[0].ContainsKey))
            {
                var mine = Statistics.Median(ours.Select(r => r[figure]));
                var ratios = ours.Zip(theirs).Where(r => r.Second.ContainsKey(figure)).Select(r => r.First[figure] / r.Second[figure]).ToList();
                rows.Add(ratios.Count == 0
                    ? [name, figure, F(mine), "-", "-"]
                    : [name, figure, F(mine), F(Statistics.Median(theirs.Select(r => r[figure]))), LabelBenchmark.Ratio(ratios)]);
            }

            rows.Add([name, "exported model, ONNX Runtime b1", F(onnx1), "-", "-"]);
            rows.Add([name, $"exported model, ONNX Runtime b{request.Batch}", F(onnxBatch), "-", "-"]);
            rows.Add([name, "features vs resnet18-imagenet", $"{features / reference.Value:F2} x", "-", "-"]);
        }

        Print(["backbone", "figure (images/s)", "trainer", "PyTorch eager", "trainer / PyTorch"], rows);
        profiles.ForEach(Console.WriteLine);
        return ExitCodes.Ok;
    }

    private static string F(double value) => value.ToString("F1", CultureInfo.InvariantCulture);

    private static List<string> PhotoFiles(string folder) =>
        Directory.Exists(folder)
            ? [.. Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories).Where(ImageFile.IsImagePath).Order(StringComparer.Ordinal)]
            : [];

    /// <summary>One round of the trainer's figures: decoding (with photos), features, the frozen step, the finetune step.</summary>
    private static Dictionary<string, double> Measure(TransferModel model, BackboneInfo info, List<LabeledFile> files, Tensor input, BackboneBenchmarkRequest request, TrainingPrecision precision, int cores)
    {
        var figures = new Dictionary<string, double>();
        if (files.Count > 0)
        {
            var clock = Stopwatch.StartNew();
            var set = ImageLoader.Load(files, info.InputWidth, info.InputHeight, []);
            figures["decode"] = set.Count / clock.Elapsed.TotalSeconds;
        }

        Strategy.Freeze(model.Backbone, trainable: []);
        model.eval();
        using (var pooled = FrozenPart.Create(model.Backbone, FrozenScope.PooledBackbone, request.FrozenEngine, CPU, cores))
        {
            figures["features"] = Features(pooled, input, request);
            figures["frozen"] = FrozenStep(model, pooled, input, request);
        }

        using (var stem = FrozenPart.Create(model.Backbone, FrozenScope.Stem, request.FrozenEngine, CPU, cores))
        {
            figures["finetune"] = FinetuneStep(model, stem, input, request, precision);
        }

        return figures;
    }

    /// <summary>[B, 3, H, W] float BGR 0..255, as the trainer feeds its backbone: the first photos decoded, or random pixels without photos.</summary>
    private static Tensor Input(BackboneInfo info, List<LabeledFile> files, BackboneBenchmarkRequest request)
    {
        if (files.Count == 0)
        {
            return rand(request.Batch, 3, info.InputHeight, info.InputWidth) * 255;
        }

        var set = ImageLoader.Load(files[..request.Batch], info.InputWidth, info.InputHeight, []);   // also the warm-up: OpenCV's first decode loads codecs
        return Batches.Images(set, [.. Enumerable.Range(0, request.Batch)], CPU);
    }

    private static double Features(FrozenPart pooled, Tensor input, BackboneBenchmarkRequest request) =>
        Rate(request.Batch, request.Seconds, () =>
        {
            using var features = pooled.Run(input);
        });

    /// <summary>The frozen strategy's step: pooled features from the frozen backbone, the head forward and backward, SGD.</summary>
    private static double FrozenStep(TransferModel model, FrozenPart pooled, Tensor input, BackboneBenchmarkRequest request)
    {
        using var optimizer = optim.SGD(model.Head.parameters(), 1e-3, momentum: 0.9, nesterov: true);
        using var labels = arange(request.Batch) % 2;
        model.Head.train();
        return Rate(request.Batch, request.Seconds, () =>
        {
            using var scope = NewDisposeScope();
            optimizer.zero_grad();
            nn.functional.cross_entropy(model.Head.ForwardPooled(pooled.Run(input)), labels).backward();
            optimizer.step();
        });
    }

    /// <summary>The finetune step: the frozen stem, then the last stage (in <paramref name="precision"/>) and head forward and backward, SGD.</summary>
    private static double FinetuneStep(TransferModel model, FrozenPart stem, Tensor input, BackboneBenchmarkRequest request, TrainingPrecision precision)
    {
        Strategy.Freeze(model.Backbone, [model.Backbone.LastStage]);
        var parameters = model.parameters().Where(p => p.requires_grad).ToList();
        using var bf16 = precision == TrainingPrecision.Bf16 ? new BFloat16Blocks(model.Backbone, model.Backbone.Blocks.Count - 1) : null;
        using var optimizer = optim.SGD(parameters, 1e-4, momentum: 0.9, nesterov: true);
        using var labels = arange(request.Batch) % 2;
        model.Backbone.LastStage.train();
        model.Head.train();
        return Rate(request.Batch, request.Seconds, () =>
        {
            using var scope = NewDisposeScope();
            optimizer.zero_grad();
            var below = stem.Run(input);
            var features = bf16 is null ? model.Backbone.LastStage.call(below) : bf16.Forward(below);
            nn.functional.cross_entropy(model.Head.call(features), labels).backward();
            bf16?.MoveGradients();
            optimizer.step();
        });
    }

    /// <summary>Runs tools/peer_benchmark.py (copied beside the program) for one backbone; its JSON lines become figures.</summary>
    private static Dictionary<string, double> PeerFigures(string backbone, BackboneBenchmarkRequest request, int threads)
    {
        var script = Path.Combine(AppContext.BaseDirectory, "peer_benchmark.py");
        var start = new ProcessStartInfo(request.Python) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[]
        {
            script, "--photos", request.Photos!, "--backbone", backbone, "--batch", $"{request.Batch}",
            "--seconds", request.Seconds.ToString(CultureInfo.InvariantCulture), "--threads", $"{threads}", "--decode-count", $"{request.DecodeCount}",
        })
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Cannot start {request.Python}.");
        var errors = process.StandardError.ReadToEndAsync();
        var figures = new Dictionary<string, double>();
        while (process.StandardOutput.ReadLine() is { } line)
        {
            using var json = JsonDocument.Parse(line);
            if (json.RootElement.TryGetProperty("figure", out var figure))
            {
                figures[figure.GetString()!] = json.RootElement.GetProperty("images_per_second").GetDouble();
            }
            else
            {
                Console.WriteLine($"peer: {line}");
            }
        }

        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"The PyTorch peer failed (exit {process.ExitCode}); install python3-torch and python3-torchvision (./dogsvscats deps). {errors.Result.Trim()}");
        }

        return figures;
    }

    /// <summary>The exported model on ONNX Runtime at batch 1 and <paramref name="batch"/>; with <paramref name="profile"/>, also a profiled session's account of a batch.</summary>
    private static (double Batch1, double BatchN, OnnxProfile? Profile) Onnx(TransferModel model, BackboneInfo info, int batch, double seconds, int threads, bool profile)
    {
        var path = Path.Combine(Path.GetTempPath(), $"dogsvscats-bench-{info.Name}-{Environment.ProcessId}.onnx");
        try
        {
            var description = new ModelDescription(["cat", "dog"], info.InputWidth, info.InputHeight, info.Name, info.Preprocessing, "benchmark", 0, 0, DateTimeOffset.Now, ModelExporter.Producer, ModelExporter.ProducerVersion);
            ModelExporter.Export(model, description, path, overwrite: true);
            using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, IntraOpNumThreads = threads };
            using var session = new InferenceSession(path, options);
            return (OnnxRate(session, info, 1, seconds), OnnxRate(session, info, batch, seconds), profile ? Profile(path, info, batch, threads) : null);
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>A session of its own with ONNX Runtime's profiler on (it slows the runs it records), a few batches, the trace read and deleted.</summary>
    private static OnnxProfile Profile(string model, BackboneInfo info, int batch, int threads)
    {
        using var options = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            IntraOpNumThreads = threads,
            EnableProfiling = true,
            ProfileOutputPathPrefix = Path.Combine(Path.GetTempPath(), $"dogsvscats-bench-profile-{Environment.ProcessId}"),
        };
        using var session = new InferenceSession(model, options);
        OnnxRate(session, info, batch, seconds: 0);   // two warm-up batches and three more
        var trace = session.EndProfiling();
        try
        {
            return OnnxProfile.Read(trace);
        }
        finally
        {
            File.Delete(trace);
        }
    }

    private static double OnnxRate(InferenceSession session, BackboneInfo info, int batch, double seconds)
    {
        var pixels = new byte[batch * info.InputHeight * info.InputWidth * 3];
        new Random(1).NextBytes(pixels);
        using var input = OrtValue.CreateTensorValueFromMemory(pixels, [batch, info.InputHeight, info.InputWidth, 3]);
        using var runOptions = new RunOptions();
        var inputs = new Dictionary<string, OrtValue> { [ModelContract.InputName] = input };
        return Rate(batch, seconds, () =>
        {
            using var outputs = session.Run(runOptions, inputs, session.OutputNames);
        });
    }

    /// <summary>Images per second of <paramref name="step"/> on <paramref name="batch"/> images, after two warm-up calls.</summary>
    private static double Rate(int batch, double seconds, Action step)
    {
        step();
        step();
        var clock = Stopwatch.StartNew();
        var runs = 0;
        while (clock.Elapsed.TotalSeconds < seconds || runs < 3)
        {
            step();
            runs++;
        }

        return runs * batch / clock.Elapsed.TotalSeconds;
    }

    private static void Print(string[] header, List<string[]> rows)
    {
        var widths = header.Select((h, i) => rows.Select(r => r[i].Length).Append(h.Length).Max()).ToArray();
        string Line(string[] cells) => string.Join("  ", cells.Select((c, i) => i < 2 ? c.PadRight(widths[i]) : c.PadLeft(widths[i])));
        Console.WriteLine(Line(header));
        foreach (var row in rows)
        {
            Console.WriteLine(Line(row));
        }
    }
}
