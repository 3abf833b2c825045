using DogsVsCats.Vision.Trainer.Data;

namespace DogsVsCats.Vision.Trainer.Reporting;

public sealed record EpochRecord(int Epoch, double TrainLoss, double TrainAccuracy, double ValidationLoss, double ValidationAccuracy, double Seconds, double LearningRate);

/// <summary>Wall time of one phase (e.g. feature extraction, training, evaluation) over a number of images.</summary>
public sealed record PhaseTiming(string Phase, double Seconds, int Images)
{
    public double ImagesPerSecond => Seconds > 0 ? Images / Seconds : 0;
}

public sealed record StrategyResult(
    string Strategy,
    int BestEpoch,
    double ValidationLoss,
    double ValidationAccuracy,
    ClassificationMetrics Metrics,
    IReadOnlyList<EpochRecord> Epochs,
    IReadOnlyList<PhaseTiming> Phases,
    long TrainableParameters,
    long FrozenParameters,
    double TrainSeconds,
    string CheckpointPath,
    IReadOnlyList<string> Notes);

public sealed record DatasetSummary(
    string Root,
    string Layout,
    IReadOnlyList<string> Classes,
    int TrainImages,
    int ValidationImages,
    bool ExplicitValidation,
    IReadOnlyList<SkippedFile> Skipped);

public sealed record RunReport(
    DateTimeOffset Started,
    string Backbone,
    string Device,
    DatasetSummary Dataset,
    IReadOnlyList<StrategyResult> Strategies,
    string Winner,
    string WinnerReason,
    double TotalSeconds)
{
    /// <summary>The exported model file run on the photos (calibration, highest-loss photos); null until it is.</summary>
    public ModelEvaluation? Evaluation { get; init; }

    /// <summary>What was exported and why, with its validation figures; null in reports written before it existed.</summary>
    public SelectionReport? Selection { get; init; }
}
