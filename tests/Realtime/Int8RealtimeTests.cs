using DogsVsCats.Vision.Realtime.Inference;
using DogsVsCats.Vision.Realtime.Labelling;
using DogsVsCats.Vision.Tests.Fixtures;
using DogsVsCats.Vision.Trainer.Run;
using Microsoft.Extensions.Logging;

namespace DogsVsCats.Vision.Tests.Realtime;

/// <summary>The int8 model through the realtime app, beside the float model it was quantized from (the small training run's).</summary>
[Trait("Category", "Slow")]
[Collection(RealtimeProcessGroup.Name)]
public sealed class Int8RealtimeTests(SmallRunFixture run) : IDisposable
{
    private const int PerClass = 32;

    private readonly TempDirectory temp = new();

    public void Dispose() => temp.Dispose();

    [Fact]
    public void Folder_Int8Model_SaysInt8AndLabelsAsTheFloatModelButAtMostOne()
    {
        var photos = Path.Combine(temp.Path, "photos");
        TestData.CopyFlat(photos, PerClass);

        var (floatLine, floatLabels) = Label(Path.Combine(run.RunDirectory, TrainingRun.ModelFile), photos, "float.csv");
        var (int8Line, int8Labels) = Label(run.Int8Model, photos, "int8.csv");

        Assert.EndsWith("on CPU.", floatLine, StringComparison.Ordinal);
        Assert.EndsWith("on CPU, int8.", int8Line, StringComparison.Ordinal);
        Assert.Equal(2 * PerClass, floatLabels.Count);
        Assert.Equal(floatLabels.Keys.Order(), int8Labels.Keys.Order());
        var disagree = floatLabels.Where(p => int8Labels[p.Key] != p.Value).Select(p => p.Key).ToList();
        Assert.True(disagree.Count <= 1, $"int8 and float labels disagree on {disagree.Count} of {floatLabels.Count} photos: {string.Join(", ", disagree)}");
        // Both models see both classes, so agreement is not the trivial one of a model that answers one label.
        Assert.Equal(run.Report.Dataset.Classes.Order(), floatLabels.Values.Distinct().Order());
    }

    [Theory]
    [InlineData(false, true)]
    [InlineData(true, false)]
    public void Start_Int8ModelOnCpu_WarnsOnlyWithoutInt8DotProducts(bool dotProduct, bool warned)
    {
        var logger = new ListLogger();

        using var classifier = new Classifier(run.Int8Model, InferenceDevice.Cpu, 1, logger, dotProduct);

        Assert.Equal("CPU, int8", classifier.Device);
        var warnings = logger.Entries.Where(e => e.Level == LogLevel.Warning).Select(e => e.Message).ToList();
        Assert.Equal(warned, warnings.Any(w => w.Contains("no int8 dot-product instructions", StringComparison.Ordinal)));
        Assert.Equal(warned ? 1 : 0, warnings.Count);
    }

    [Fact]
    public void Start_FloatModelWithoutInt8DotProducts_DoesNotWarn()
    {
        var logger = new ListLogger();

        using var classifier = new Classifier(Path.Combine(run.RunDirectory, TrainingRun.ModelFile), InferenceDevice.Cpu, 1, logger, cpuHasInt8DotProduct: false);

        Assert.Equal("CPU", classifier.Device);
        Assert.DoesNotContain(logger.Entries, e => e.Level == LogLevel.Warning);
    }

    /// <summary>Labels <paramref name="photos"/> with the app (the label is the most probable class); its model line and each photo's label.</summary>
    private (string ModelLine, Dictionary<string, string> Labels) Label(string model, string photos, string csv)
    {
        var csvPath = Path.Combine(temp.Path, csv);
        var (code, output, error) = RealtimeProcess.Run(["--model", model, "--source", photos, "--csv", csvPath, "--min-confidence", "0", "--threads", "1"]);
        Assert.True(code == 0, $"exit {code}: {error}");
        var line = output.Split('\n').Select(l => l.Trim()).Single(l => l.Contains("Model: ", StringComparison.Ordinal));
        var labels = run.Report.Dataset.Classes;
        var column = LabelsCsv.Column(labels, "label");
        return (line, LabelsCsv.Read(csvPath, labels).ToDictionary(r => r.Key, r => r.Value[column]));
    }

    /// <summary>Keeps what was logged, to read back.</summary>
    private sealed class ListLogger : ILogger
    {
        public List<(LogLevel Level, string Message)> Entries { get; } = [];

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            ArgumentNullException.ThrowIfNull(formatter);
            Entries.Add((logLevel, formatter(state, exception)));
        }
    }
}
