using System.Text.Json;
using DogsVsCats.Vision.Shared;
using DogsVsCats.Vision.Trainer.Export;
using DogsVsCats.Vision.Trainer.Reporting;
using DogsVsCats.Vision.Trainer.Results;
using DogsVsCats.Vision.Trainer.Strategies;
using DogsVsCats.Vision.Trainer.Training;

namespace DogsVsCats.Vision.Trainer.Run;

/// <summary>
/// What run.json says of a run: when it started, the command-line options that decide its results (every one, with
/// its value then, so a resume neither takes a later default nor accepts a contradicting option) and whether it ended.
/// </summary>
internal sealed record RunRecord(DateTimeOffset Started, IReadOnlyList<string> Arguments, bool Finished);

/// <summary>What a finished strategy left for a resumed run: its report row, its validation logits, and the head a dependent strategy starts from.</summary>
internal sealed record FinishedStrategy(StrategyResult Result, ValidationPredictions Predictions, string? TrainedHead);

/// <summary>
/// A run folder's own records, what <c>train --resume</c> continues from: run.json, and for each strategy that
/// finished its <c>outcome.json</c>; the strategy that was running continues from its fit's checkpoint.
/// </summary>
internal static class RunFolder
{
    public const string RecordFile = "run.json";

    public const string OutcomeFile = "outcome.json";

    public static void Start(string directory, RunRecord record) => Write(directory, record);

    public static void Finish(string directory) => Write(directory, Read(directory) with { Finished = true });

    /// <summary>The record of a run <c>--resume</c> may continue; the message of any refusal says what to give instead.</summary>
    public static RunRecord ReadUnfinished(string directory)
    {
        if (!Directory.Exists(directory))
        {
            throw new ArgumentException($"--resume {directory}: no such folder. Give the run folder the interrupted run printed as 'Run folder: ...' (a folder under runs/ unless --out moved it).");
        }

        if (!File.Exists(Path.Combine(directory, RecordFile)))
        {
            throw new ArgumentException($"--resume {directory}: not a run folder (it has no {RecordFile}). Give the folder the interrupted run printed as 'Run folder: ...', such as runs/<yyyyMMdd-HHmmss>.");
        }

        var record = Read(directory);
        if (record.Finished)
        {
            throw new ArgumentException($"--resume {directory}: that run finished; its report is {Path.Combine(directory, ReportWriter.MarkdownFile)}. Start a new run without --resume to train again.");
        }

        return record;
    }

    /// <summary>
    /// Records a strategy's outcome in its folder, then drops its fit's checkpoint: the run now starts from the
    /// outcome, which is what a resume must not train again.
    /// </summary>
    public static void SaveOutcome(string strategyDirectory, StrategyOutcome outcome)
    {
        var finished = new FinishedStrategy(outcome.Result, outcome.Predictions, outcome.TrainedHead);
        AtomicFile.WriteAllText(Path.Combine(strategyDirectory, OutcomeFile), JsonSerializer.Serialize(finished, ReportWriter.JsonOptions) + "\n");
        File.Delete(Path.Combine(strategyDirectory, FitCheckpoint.FileName));
    }

    /// <summary>The outcome of <paramref name="strategy"/> when it finished in an earlier session of this run (its model read from its checkpoint), else null.</summary>
    public static StrategyOutcome? Restore(StrategyContext context, Strategy strategy)
    {
        var directory = context.Directory(strategy);
        var path = Path.Combine(directory, OutcomeFile);
        if (!File.Exists(path))
        {
            return null;
        }

        var finished = Deserialize<FinishedStrategy>(path);
        // Paths as this session sees the folder: a resume may run from another working folder.
        string Here(string file) => Path.Combine(directory, Path.GetFileName(file));
        var result = finished.Result with { CheckpointPath = Here(finished.Result.CheckpointPath) };
#pragma warning disable CA2000 // ownership passes to the outcome; the catch below disposes it on failure
        var model = context.NewModel();
#pragma warning restore CA2000
        try
        {
            model.load(result.CheckpointPath);
            // The description as the strategy wrote it: a session stopped after the export may have rewritten it.
            var info = CheckpointInfo.Describe(model.Backbone.Info, context.Classes, strategy.Name, result.ValidationLoss, result.ValidationAccuracy);
            CheckpointInfo.Save(info, result.CheckpointPath);
            context.Progress.Log($"{strategy.Name}: finished in an earlier session of this run (validation loss {result.ValidationLoss:F4}); read from {path}.");
            return new StrategyOutcome(result, model, info, finished.TrainedHead is { } head ? Here(head) : null) { Predictions = finished.Predictions };
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    private static RunRecord Read(string directory) => Deserialize<RunRecord>(Path.Combine(directory, RecordFile));

    private static void Write(string directory, RunRecord record) =>
        AtomicFile.WriteAllText(Path.Combine(directory, RecordFile), JsonSerializer.Serialize(record, ReportWriter.JsonOptions) + "\n");

    private static T Deserialize<T>(string path)
    {
        try
        {
            return JsonSerializer.Deserialize<T>(File.ReadAllText(path), ReportWriter.JsonOptions) ?? throw new JsonException("it is empty");
        }
        catch (JsonException e)
        {
            throw new ArgumentException($"{path} cannot be read ({e.Message}); the run in {Path.GetDirectoryName(path)} cannot be resumed: start a new one.", e);
        }
    }
}
