namespace DogsVsCats.Vision.Trainer.Results;

internal sealed record EpochRecord(int Epoch, double TrainLoss, double TrainAccuracy, double ValidationLoss, double ValidationAccuracy, double Seconds, double LearningRate);

/// <summary>Wall time of one phase (e.g. feature extraction, training, evaluation) over a number of images.</summary>
internal sealed record PhaseTiming(string Phase, double Seconds, int Images)
{
    public double ImagesPerSecond => Seconds > 0 ? Images / Seconds : 0;
}

internal sealed record StrategyResult(
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
