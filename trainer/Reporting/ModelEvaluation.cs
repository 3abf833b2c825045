using DogsVsCats.Vision.Trainer.Data;
using DogsVsCats.Vision.Trainer.Results;

namespace DogsVsCats.Vision.Trainer.Reporting;

/// <summary>What the shipped model file does on the run's photos: its calibration on validation and its highest-loss photos.</summary>
/// <param name="Temperature">The temperature folded into the file; null when it has none.</param>
/// <param name="Calibrated">The file's probabilities on validation (after the temperature).</param>
/// <param name="Untempered">softmax(T log p) of the same: the model before its temperature; null when it has none.</param>
internal sealed record ModelEvaluation(
    string Model,
    double? Temperature,
    CalibrationFigures Calibrated,
    CalibrationFigures? Untempered,
    string ReliabilityDiagram,
    LossList ValidationMistakes,
    LossList? TrainHighLoss,
    IReadOnlyList<PhaseTiming> Passes,
    IReadOnlyList<string> Unreadable);

/// <summary>Runs the model file that a run ships on its validation and training photos, and writes what it finds.</summary>
internal static class ModelEvaluator
{
    public const string ReliabilityFile = "reliability.png";
    public const string MistakesName = "mistakes";
    public const string TrainHighLossName = "train_high_loss";

    /// <summary>
    /// Scores <paramref name="validation"/> and <paramref name="train"/> (when not null) with <paramref name="modelPath"/> (one ONNX
    /// Runtime session) and writes reliability.png, mistakes.png/.csv and train_high_loss.png/.csv into <paramref name="runDirectory"/>.
    /// </summary>
    /// <param name="decodeThreads">Threads that decode the photos; 0 or less = all cores.</param>
    public static ModelEvaluation Evaluate(string modelPath, ImageSet validation, ImageSet? train, string runDirectory, Action<string> log, int decodeThreads = 0)
    {
        using var model = new ModelScorer(modelPath, decodeThreads: decodeThreads);

        var validationScores = model.Score(validation.Paths, validation.Labels);
        log($"Scored {validationScores.Photos.Count} validation photos with {Path.GetFileName(modelPath)} in {validationScores.Seconds:F1} s ({Rate(validationScores)}).");
        var probabilities = validationScores.Photos.Select(p => p.Probabilities).ToList();
        var truth = validationScores.Photos.Select(p => p.Truth).ToList();
        var calibrated = Calibration.Measure(probabilities, truth);
        var untempered = model.Temperature is { } t
            ? Calibration.Measure([.. probabilities.Select(p => Calibration.Untemper(p, t))], truth)
            : null;
        Plots.Reliability(Path.Combine(runDirectory, ReliabilityFile), calibrated, untempered, model.Temperature);
        log(model.Temperature is { } temperature
            ? $"Calibration (validation): temperature {temperature:G4}; NLL {untempered!.LogLoss:F4} -> {calibrated.LogLoss:F4}, ECE {untempered.ExpectedCalibrationError:F4} -> {calibrated.ExpectedCalibrationError:F4}."
            : $"Calibration (validation, no temperature): NLL {calibrated.LogLoss:F4}, ECE {calibrated.ExpectedCalibrationError:F4}; {calibrated.FractionBelowMinConfidence:P1} below {calibrated.MinConfidence:G2}.");
        var mistakes = LossGallery.Write(runDirectory, MistakesName, "validation", $"Validation photos with the highest loss ({validationScores.Photos.Count(p => !p.Correct)} wrong of {validationScores.Photos.Count})", validationScores, model);

        if (train is null)
        {
            log("Training photos not scored (--report-photos validation): no list of possible label errors.");
        }

        // The training photos cost ~4 times the validation pass (2,400 photos: ~1 minute on 2 CPU cores); said in the log.
        var trainScores = train is null ? null : ScoreTrain(model, train, log);
        var highLoss = trainScores is null
            ? null
            : LossGallery.Write(runDirectory, TrainHighLossName, "training", "Training photos with the highest loss: possible label errors", trainScores, model);

        var trainUnreadable = trainScores?.Unreadable ?? [];
        foreach (var path in validationScores.Unreadable.Concat(trainUnreadable))
        {
            log($"warning: {path} could not be read again for the evaluation; it is left out.");
        }

        return new ModelEvaluation(
            Path.GetFileName(modelPath), model.Temperature, calibrated, untempered, ReliabilityFile, mistakes, highLoss,
            [new PhaseTiming("score validation", validationScores.Seconds, validationScores.Photos.Count), .. trainScores is null ? Array.Empty<PhaseTiming>() : [new PhaseTiming("score train", trainScores.Seconds, trainScores.Photos.Count)]],
            [.. validationScores.Unreadable, .. trainUnreadable]);

        static ScoredSet ScoreTrain(ModelScorer model, ImageSet train, Action<string> log)
        {
            log($"Scoring {train.Count} training photos for the high-loss list (possible label errors; --report-photos validation skips it)...");
            var scores = model.Score(train.Paths, train.Labels);
            log($"Scored {scores.Photos.Count} training photos in {scores.Seconds:F1} s ({Rate(scores)}).");
            return scores;
        }

        static string Rate(ScoredSet set) => $"{set.Photos.Count / Math.Max(1e-9, set.Seconds):F0} img/s";
    }
}
