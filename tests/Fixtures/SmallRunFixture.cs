using DogsVsCats.Vision.Trainer.Export;
using DogsVsCats.Vision.Trainer.Reporting;
using DogsVsCats.Vision.Trainer.Results;
using DogsVsCats.Vision.Trainer.Run;
using DogsVsCats.Vision.Trainer.Selection;
using DogsVsCats.Vision.Trainer.Strategies;
using DogsVsCats.Vision.Trainer.Training;

namespace DogsVsCats.Vision.Tests.Fixtures;

/// <summary>
/// Runs <c>trainer train --strategy all</c> once, for seconds, on 24 + 24 real photos (8 + 8 for validation),
/// and shares the run with the tests that read it. The run is made once per test process and shared by every
/// collection that uses the fixture (the parallel training tests and the serial child-process tests alike), so it is
/// never trained twice; its folder goes when the test process ends.
/// </summary>
public sealed class SmallRunFixture
{
    public const int LimitPerClass = 24;
    public const double ValidationFraction = 0.25;
    public const int BatchSize = 8;
    public const int Epochs = 3;

    /// <summary>The training photos <see cref="Int8Model"/> is calibrated on.</summary>
    public const int Int8CalibrationPhotos = 48;

    private static readonly Lazy<SmallRunFixture> Shared = new(() => new SmallRunFixture(TestData.NewTempDirectory()), LazyThreadSafetyMode.ExecutionAndPublication);

    // Quantized on first use only (calibration runs the float model over the photos), once for every view of the run.
    private readonly Lazy<string> int8Model;

    /// <summary>What xunit creates for each collection: a view of the one shared run.</summary>
    public SmallRunFixture()
    {
        var run = Shared.Value;
        (Directory, Report, RunDirectory, Log, int8Model) = (run.Directory, run.Report, run.RunDirectory, run.Log, run.int8Model);
    }

    private SmallRunFixture(string directory)
    {
        Directory = directory;
        AppDomain.CurrentDomain.ProcessExit += (_, _) => System.IO.Directory.Delete(directory, recursive: true);
        var settings = new TrainingSettings
        {
            BatchSize = BatchSize,
            Epochs = Epochs,
            Patience = 3,
            CacheDirectory = CacheDirectory,
        };
        (Report, RunDirectory) = TrainingRun.Execute(Request(StrategyRegistry.All, "runs"), settings, new QuietProgress(Log.Add));
        int8Model = new Lazy<string>(
            () =>
            {
                var photos = CalibrationPhotos.Load(TestData.DogsVsCatsRoot, 224, 224, Int8CalibrationPhotos);
                var path = Path.Combine(directory, "model.int8.onnx");
                Int8Quantizer.QuantizeFile(Path.Combine(RunDirectory, TrainingRun.ModelFile), photos, path, overwrite: false, new QuantizationSettings { CalibrationImages = Int8CalibrationPhotos });
                return path;
            },
            LazyThreadSafetyMode.ExecutionAndPublication);
    }

    public string Directory { get; }

    /// <summary>The features cache the run filled: later runs on the same photos read it instead of running the backbone.</summary>
    public string CacheDirectory => Path.Combine(Directory, "cache");

    internal RunReport Report { get; }

    public string RunDirectory { get; }

    public List<string> Log { get; } = [];

    /// <summary>The run's model.onnx quantized to int8 (QDQ) on <see cref="Int8CalibrationPhotos"/> training photos, made once per test process.</summary>
    public string Int8Model => int8Model.Value;

    internal StrategyResult Strategy(string name) => Report.Strategies.Single(s => s.Strategy == name);

    /// <summary>The run's photos and split, for <paramref name="strategy"/>, with its runs under <paramref name="outputFolder"/>.</summary>
    internal RunRequest Request(string strategy, string outputFolder) => new()
    {
        DataRoot = TestData.DogsVsCatsRoot,
        Strategy = strategy,
        LimitPerClass = LimitPerClass,
        ValidationFraction = ValidationFraction,
        OutputRoot = Path.Combine(Directory, outputFolder),
        // One plain model, so the tests can compare model.onnx with the winner's checkpoint; the mirrored pass and the
        // ensemble have their own graph tests.
        Tta = TestTimeAugmentation.None,
        Export = ExportChoice.Winner,
    };
}

[CollectionDefinition(Name)]
public sealed class SmallRunGroup : ICollectionFixture<SmallRunFixture>
{
    public const string Name = "small training run";
}
