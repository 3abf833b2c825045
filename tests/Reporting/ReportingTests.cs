using System.Text.Json;
using DogsVsCats.Vision.Trainer.Data;
using DogsVsCats.Vision.Trainer.Reporting;
using DogsVsCats.Vision.Trainer.Results;
using DogsVsCats.Vision.Trainer.Training;
using OpenCvSharp;

namespace DogsVsCats.Vision.Tests.Reporting;

[Trait("Category", "Fast")]
public sealed class ReportingTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void Compute_HandMadeExample_GivesKnownPrecisionRecallAndMatrix()
    {
        // cat: 4 true, 3 found (tp 3), 2 dogs called cat -> precision 3/5, recall 3/4.
        // dog: 6 true, 4 found (tp 4), 1 cat called dog -> precision 4/5, recall 4/6. fox: never seen, never predicted.
        int[] truth = [0, 0, 0, 0, 1, 1, 1, 1, 1, 1];
        int[] predicted = [0, 0, 0, 1, 1, 1, 1, 1, 0, 0];

        var m = ClassificationMetrics.Compute(truth, predicted, ["cat", "dog", "fox"]);

        Assert.Equal(0.7, m.Accuracy, 12);
        Assert.Equal(0.6, m.PerClass[0].Precision, 12);
        Assert.Equal(0.75, m.PerClass[0].Recall, 12);
        Assert.Equal(2 * 0.6 * 0.75 / 1.35, m.PerClass[0].F1, 12);
        Assert.Equal(4, m.PerClass[0].Support);
        Assert.Equal(0.8, m.PerClass[1].Precision, 12);
        Assert.Equal(4.0 / 6, m.PerClass[1].Recall, 12);
        Assert.Equal(6, m.PerClass[1].Support);
        Assert.Equal(new ClassMetrics("fox", 0, 0, 0, 0), m.PerClass[2]);
        Assert.Equal([3, 1, 0], m.ConfusionMatrix[0]);
        Assert.Equal([2, 4, 0], m.ConfusionMatrix[1]);
        Assert.Equal([0, 0, 0], m.ConfusionMatrix[2]);
    }

    [Fact]
    public void Compute_NoSamples_ReturnsZerosNotNaN()
    {
        var m = ClassificationMetrics.Compute([], [], ["cat", "dog"]);

        Assert.Equal(0, m.Accuracy);
        Assert.All(m.PerClass, c => Assert.Equal(0, c.F1));
    }

    [Fact]
    public void Append_TwoEpochs_WritesHeaderOnceAndInvariantRows()
    {
        var path = Path.Combine(_temp.Path, "logs", "epochs.csv");
        using (var log = new EpochCsvLog(path))
        {
            log.Append(new EpochRecord(1, 0.5, 0.75, 0.25, 0.875, 1.5, 0.001));
            log.Append(new EpochRecord(2, 0.4, 0.8, 0.2, 0.9, 1.25, 0.0005));
        }

        var lines = File.ReadAllLines(path);

        Assert.Equal(3, lines.Length);
        Assert.Equal(EpochCsvLog.Header, lines[0]);
        Assert.Equal("1,0.5,0.75,0.25,0.875,1.5,0.001", lines[1]);
        Assert.Equal("2,0.4,0.8,0.2,0.9,1.25,0.0005", lines[2]);
    }

    [Fact]
    public void Write_FullReport_WritesFourFilesAndJsonRoundTrips()
    {
        var report = SampleReport();

        ReportWriter.Write(_temp.Path, report);

        Assert.Equal(
            ["confusion_matrix.png", "loss_curves.png", "report.json", "report.md"],
            Directory.EnumerateFileSystemEntries(_temp.Path).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        var json = File.ReadAllText(Path.Combine(_temp.Path, "report.json"));
        Assert.Contains("\"validationLoss\"", json, StringComparison.Ordinal);
        var back = JsonSerializer.Deserialize<RunReport>(json, ReportWriter.JsonOptions)!;
        Assert.Equal(report.Winner, back.Winner);
        Assert.Equal(report.Started, back.Started);
        Assert.Equal(report.Dataset.Skipped, back.Dataset.Skipped);
        Assert.Equal(report.Strategies[1].Epochs, back.Strategies[1].Epochs);
        Assert.Equal(report.Strategies[1].Metrics.ConfusionMatrix, back.Strategies[1].Metrics.ConfusionMatrix);
        Assert.Equal(report.Strategies[1].Metrics.PerClass, back.Strategies[1].Metrics.PerClass);
        Assert.Equal(report.Strategies[0].Phases, back.Strategies[0].Phases);

        var md = File.ReadAllText(Path.Combine(_temp.Path, "report.md"));
        Assert.Contains("(loss_curves.png)", md, StringComparison.Ordinal);
        Assert.Contains("(confusion_matrix.png)", md, StringComparison.Ordinal);
        Assert.Contains("truncated JPEG", md, StringComparison.Ordinal);
        Assert.Contains(report.WinnerReason, md, StringComparison.Ordinal);
        Assert.Contains("| cat | 86.36 % | 95.00 % |", md, StringComparison.Ordinal);
    }

    [Fact]
    public void Write_DivergedStrategyWithNaNLoss_StillWritesJson()
    {
        var report = SampleReport();
        report = report with { Strategies = [.. report.Strategies, Result("diverged", double.NaN, 0.5)] };

        ReportWriter.Write(_temp.Path, report);

        var back = JsonSerializer.Deserialize<RunReport>(File.ReadAllText(Path.Combine(_temp.Path, "report.json")), ReportWriter.JsonOptions)!;
        Assert.True(double.IsNaN(back.Strategies[^1].ValidationLoss));
    }

    [Theory]
    [InlineData("loss_curves.png")]
    [InlineData("confusion_matrix.png")]
    public void Write_FullReport_PngsDecodeWithContent(string file)
    {
        ReportWriter.Write(_temp.Path, SampleReport());
        var path = Path.Combine(_temp.Path, file);

        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], File.ReadAllBytes(path)[..4]);
        using var image = Cv2.ImRead(path, ImreadModes.Color);
        Assert.False(image.Empty());
        Assert.InRange(image.Width, 400, 2000);
        Assert.InRange(image.Height, 300, 2000);
        Cv2.MeanStdDev(image, out _, out var stdDev);
        Assert.True(stdDev.Val0 > 1, $"std-dev {stdDev.Val0}: the image looks blank");
    }

    private static StrategyResult Result(string name, double loss, double accuracy) =>
        new(name, 1, loss, accuracy, ClassificationMetrics.Compute([0, 1], [0, 1], ["cat", "dog"]), [], [], 10, 0, 1, "", []);

    private static RunReport SampleReport()
    {
        var metrics = ClassificationMetrics.Compute(
            [.. Enumerable.Repeat(0, 20), .. Enumerable.Repeat(1, 20)],
            [.. Enumerable.Repeat(0, 19), 1, .. Enumerable.Repeat(1, 17), 0, 0, 0],
            ["cat", "dog"]);
        EpochRecord[] Epochs(double scale) =>
            [.. Enumerable.Range(1, 6).Select(e => new EpochRecord(e, scale / e, 0.5 + (0.07 * e), (scale / e) + 0.05, 0.5 + (0.06 * e), 2.5, 0.001))];
        StrategyResult Strategy(string name, double scale, double loss) => new(
            name, 6, loss, metrics.Accuracy, metrics, Epochs(scale),
            [new PhaseTiming("features", 4.0, 100), new PhaseTiming("train", 10.0, 600)],
            5130, 11_176_512, 12.5, $"runs/x/{name}.pt", ["a note | with a pipe"]);

        return new RunReport(
            new DateTimeOffset(2025, 11, 28, 13, 0, 0, TimeSpan.FromHours(1)),
            "resnet18-cntk",
            "cpu",
            new DatasetSummary("/data/dogs", "class-folders", ["cat", "dog"], 32, 40, false,
                [new SkippedFile("/data/dogs/cat/bad.jpg", "truncated JPEG: no end-of-image marker")]),
            [Strategy("linear-probe", 0.8, 0.21), Strategy("finetune", 0.6, 0.16)],
            "finetune",
            "'finetune' has the lowest validation loss.",
            42);
    }
}
