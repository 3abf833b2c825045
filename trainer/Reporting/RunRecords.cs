using DogsVsCats.Vision.Trainer.Data;
using DogsVsCats.Vision.Trainer.Results;
using DogsVsCats.Vision.Trainer.Selection;

namespace DogsVsCats.Vision.Trainer.Reporting;

internal sealed record DatasetSummary(
    string Root,
    string Layout,
    IReadOnlyList<string> Classes,
    int TrainImages,
    int ValidationImages,
    bool ExplicitValidation,
    IReadOnlyList<SkippedFile> Skipped);

internal sealed record RunReport(
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
