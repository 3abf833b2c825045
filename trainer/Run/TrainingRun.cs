using System.Diagnostics;
using DogsVsCats.Vision.Shared;
using DogsVsCats.Vision.Trainer.Data;
using DogsVsCats.Vision.Trainer.Export;
using DogsVsCats.Vision.Trainer.Models;
using DogsVsCats.Vision.Trainer.Reporting;
using DogsVsCats.Vision.Trainer.Selection;
using DogsVsCats.Vision.Trainer.Strategies;
using DogsVsCats.Vision.Trainer.Training;

namespace DogsVsCats.Vision.Trainer.Run;

/// <summary>
/// Checked train and validation photos (decoded as each pass needs them) with the split they came from; the files
/// skipped so far, before training or during it.
/// </summary>
internal sealed record TrainingData(DatasetSplit Split, ImageSet Train, ImageSet Validation, SkipLog Skipped);

/// <summary>What <c>trainer train</c> was asked to do.</summary>
internal sealed record RunRequest
{
    public required string DataRoot { get; init; }

    public string Strategy { get; init; } = StrategyRegistry.All;

    public BackboneSpec Backbone { get; init; } = BackboneSpec.Default;

    public double ValidationFraction { get; init; } = DatasetScanner.DefaultValidationFraction;

    /// <summary>At most this many images per class in each split (0 = all): quick trials on a big folder.</summary>
    public int LimitPerClass { get; init; }

    public string OutputRoot { get; init; } = "runs";

    /// <summary>CPU threads for TorchSharp (0 = all cores).</summary>
    public int TorchThreads { get; init; }

    public int DecodeThreads { get; init; } = -1;

    /// <summary>Also write model.int8.onnx, calibrated on training photos.</summary>
    public bool WriteInt8Model { get; init; }

    /// <summary><c>--tta</c>: none, or flip (the exported graph also runs each image's mirror and averages).</summary>
    public TestTimeAugmentation Tta { get; init; } = ExportSelection.DefaultTta;

    /// <summary><c>--export</c>: auto, winner, ensemble or a strategy's name.</summary>
    public ExportChoice Export { get; init; } = ExportChoice.Default;

    /// <summary><c>--report-photos</c>: which photos the exported file is scored on for the report.</summary>
    public ReportPhotos ReportPhotos { get; init; } = ReportPhotos.All;

    /// <summary><c>--resume</c>: the folder of an unfinished run to continue in; null starts a new run folder.</summary>
    public string? Resume { get; init; }

    /// <summary>The options that decide the results, as command-line arguments: recorded in run.json for a resume.</summary>
    public IReadOnlyList<string> Arguments { get; init; } = [];
}

/// <summary>Ctrl+C stopped the run between two steps; <see cref="RunDirectory"/> is what <c>--resume</c> continues.</summary>
internal sealed class RunStoppedException(string runDirectory, Exception inner) : Exception($"The run in {runDirectory} was stopped.", inner)
{
    public string RunDirectory { get; } = runDirectory;
}

/// <summary>Which photos the exported model file is scored on after the run (calibration, galleries of mistakes).</summary>
internal enum ReportPhotos
{
    /// <summary>Validation (calibration, mistakes) and training (possible label errors): one more pass over the training photos.</summary>
    All,

    /// <summary>Validation only: calibration and mistakes, no list of possible label errors.</summary>
    Validation,

    /// <summary>Neither: no calibration figures, reliability diagram or galleries.</summary>
    None,
}

/// <summary>Scan, decode, run the strategies, compare them and write the report: the whole of <c>trainer train</c>.</summary>
internal static class TrainingRun
{
    public const string ModelFile = "model.onnx";

    public static (RunReport Report, string Directory) Execute(RunRequest request, TrainingSettings settings, IProgressReporter progress)
    {
        var started = DateTimeOffset.Now;
        var clock = Stopwatch.StartNew();
        var plan = StrategyRegistry.Plan(request.Strategy);
        ModelChoice.Check(request.Export, plan);
        var export = ExportFor(request);
        CheckBackbone(request.Backbone, progress);
        var data = Load(request, progress);
        settings.Stop.ThrowIfCancellationRequested();
        string runDirectory;
        if (request.Resume is { } resume)
        {
            runDirectory = resume;
            started = RunFolder.ReadUnfinished(resume).Started;
            progress.Log($"Run folder: {runDirectory} (resumed)");
        }
        else
        {
            // runs/yyyyMMdd-HHmmss, or "... (2)" when that exists: an earlier run is never overwritten.
            runDirectory = FreePath.CreateDirectory(Path.Combine(request.OutputRoot, started.ToString("yyyyMMdd-HHmmss")));
            RunFolder.Start(runDirectory, new RunRecord(started, request.Arguments, Finished: false));
            progress.Log($"Run folder: {runDirectory}");
        }

        var context = new StrategyContext(data.Train, data.Validation, data.Split.Classes, request.Backbone, settings, runDirectory, progress);
        var outcomes = new Dictionary<string, StrategyOutcome>();
        try
        {
            var earlierSeconds = 0.0;
            foreach (var strategy in plan)
            {
                if (RunFolder.Restore(context, strategy) is { } finished)
                {
                    outcomes[strategy.Name] = finished;
                    earlierSeconds += finished.Result.TrainSeconds;
                    continue;
                }

                // What a strategy starts from reaches it through its declared dependencies, which the plan ran before it.
                var dependencies = strategy.DependsOn.ToDictionary(name => name, name => outcomes[name]);
                try
                {
                    outcomes[strategy.Name] = strategy.Run(context, dependencies);
                }
                catch (OperationCanceledException e) when (settings.Stop.IsCancellationRequested)
                {
                    throw new RunStoppedException(runDirectory, e);
                }

                RunFolder.SaveOutcome(context.Directory(strategy), outcomes[strategy.Name]);
            }

            // A session stopped after the export left these; this one writes them again from the same models.
            File.Delete(Path.Combine(runDirectory, ModelFile));
            File.Delete(Int8Quantizer.Int8Path(Path.Combine(runDirectory, ModelFile)));

            var results = plan.Select(s => outcomes[s.Name].Result).ToList();
            // The report's winner is the selection's: one rule names it and decides what model.onnx holds.
            var (selection, members) = ModelChoice.Choose([.. plan.Select(s => (s.Name, outcomes[s.Name]))], context, request.Tta, export);
            var (winner, reason) = (selection.Winner, selection.Reason);
            var summary = new DatasetSummary(
                Path.GetFullPath(request.DataRoot), data.Split.Layout, data.Split.Classes, data.Train.Count, data.Validation.Count,
                data.Split.ExplicitValidation, data.Skipped.Files);
            var report = new RunReport(started, Describe(request.Backbone), settings.Device.ToString(), summary, results, winner, reason, earlierSeconds + clock.Elapsed.TotalSeconds) { Selection = selection };
            ReportWriter.Write(runDirectory, report);
            progress.Log($"Winner: {winner}. {reason}");
            progress.Log($"Report: {Path.Combine(runDirectory, ReportWriter.MarkdownFile)}");
            var model = Path.Combine(runDirectory, ModelFile);
            // The chosen models are still in memory with their best epoch's weights: the same file as exporting a checkpoint.
            var exported = ModelChoice.Export(selection, members, model);
            progress.Log($"Model: {model} (ONNX, {exported.Strategy}, tta {exported.Tta}, temperature {exported.Temperature:F3})");
            // The report ends with what the shipped file itself does: calibration and the highest-loss photos.
            if (request.ReportPhotos != ReportPhotos.None)
            {
                var train = request.ReportPhotos == ReportPhotos.All ? data.Train : null;
                report = report with { Evaluation = ModelEvaluator.Evaluate(model, data.Validation, train, runDirectory, progress.Log, request.DecodeThreads) };
                ReportWriter.Write(runDirectory, report);
            }
            if (request.WriteInt8Model)
            {
                var int8 = Int8Quantizer.Int8Path(model);
                var calibration = new QuantizationSettings();
                var photos = CalibrationPhotos.Decode(data.Train.Paths, data.Train.Width, data.Train.Height, calibration.CalibrationImages);
                var quantized = Int8Quantizer.QuantizeFile(model, photos, int8, overwrite: false, calibration);
                progress.Log($"Int8 model: {int8} (calibrated on {quantized.CalibrationImages} training photos)");
            }

            RunFolder.Finish(runDirectory);
            return (report, runDirectory);
        }
        finally
        {
            foreach (var outcome in outcomes.Values)
            {
                outcome.Dispose();
            }
        }
    }

    public static TrainingData Load(RunRequest request, IProgressReporter progress)
    {
        var split = DatasetScanner.Scan(request.DataRoot, request.ValidationFraction, 42);
        if (request.LimitPerClass > 0)
        {
            split = split.Subsample(request.LimitPerClass, Math.Max(1, (int)Math.Round(request.LimitPerClass * request.ValidationFraction / (1 - request.ValidationFraction))));
        }

        progress.Log($"Dataset: {split.Layout}, classes {string.Join(", ", split.Classes)}; {split.Train.Count} train / {split.Validation.Count} validation files{(split.ExplicitValidation ? " (explicit validation folder)" : string.Empty)}.");
        var skipped = new SkipLog(s => progress.Log($"warning: skipped {s.Path}: {s.Reason}"));
        var train = Check(split.Train, "train", skipped, request, progress);
        var validation = Check(split.Validation, "validation", skipped, request, progress);
        if (skipped.Count > 0)
        {
            progress.Log($"Skipped {skipped.Count} unreadable file(s); they are listed in the report.");
        }

        ImageLoader.EnsureEveryClassPresent(train, split.Classes, "train");
        ImageLoader.EnsureEveryClassPresent(validation, split.Classes, "validation");
        return new TrainingData(split, train, validation, skipped);
    }

    private static ImageSet Check(IReadOnlyList<LabeledFile> files, string name, SkipLog skipped, RunRequest request, IProgressReporter progress)
    {
        var clock = Stopwatch.StartNew();
        var input = request.Backbone.Info;
        using var task = progress.Start($"check {name}", files.Count, "file");
        var set = ImageLoader.Check(files, input.InputWidth, input.InputHeight, skipped, new TaskProgress(task), request.DecodeThreads);
        progress.Log($"Checked {set.Count} {name} files in {clock.Elapsed.TotalSeconds:F1} s; they are decoded as each pass reaches them.");
        return set;
    }

    /// <summary>The int8 model is one quantized network: with --int8, auto exports the winner and an ensemble is refused before training.</summary>
    private static ExportChoice ExportFor(RunRequest request) => (request.WriteInt8Model, request.Export.Kind) switch
    {
        (true, ExportKind.Ensemble) => throw new ArgumentException("--int8 quantizes one network and --export ensemble exports several in one graph: use --export auto or winner (or a strategy's name) with --int8."),
        (true, ExportKind.Auto) => ExportChoice.Winner,
        _ => request.Export,
    };

    /// <summary>Loads the backbone's weights once before any photo is decoded, so a wrong file fails in seconds.</summary>
    private static void CheckBackbone(BackboneSpec spec, IProgressReporter progress)
    {
        var clock = Stopwatch.StartNew();
        using var backbone = Backbones.Create(spec);
        var info = backbone.Info;
        progress.Log($"Backbone: {Describe(spec)}, input {info.InputWidth}x{info.InputHeight}, {info.FeatureChannels} features; weights checked in {clock.Elapsed.TotalSeconds:F1} s.");
    }

    private static string Describe(BackboneSpec spec) =>
        spec.WeightsPath is null ? spec.Name : $"{spec.Name} (weights {Path.GetFullPath(spec.WeightsPath)})";

    /// <summary>Turns "files done so far", reported from many decoding threads, into progress steps.</summary>
    private sealed class TaskProgress(IProgressTask task) : IProgress<int>
    {
        private int reported;

        public void Report(int value)
        {
            int seen;
            do
            {
                seen = Volatile.Read(ref reported);
                if (value <= seen)
                {
                    return;
                }
            }
            while (Interlocked.CompareExchange(ref reported, value, seen) != seen);
            task.Advance(value - seen);
        }
    }
}
