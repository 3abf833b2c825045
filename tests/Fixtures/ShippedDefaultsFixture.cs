using System.Text.Json;
using DogsVsCats.Vision.Shared;
using DogsVsCats.Vision.Tests.Cli;
using DogsVsCats.Vision.Trainer.Reporting;
using DogsVsCats.Vision.Trainer.Run;
using DogsVsCats.Vision.Trainer.Strategies;

namespace DogsVsCats.Vision.Tests.Fixtures;

/// <summary>One run of the built trainer: its folder, its report.json read back, and what it printed.</summary>
internal sealed record TrainerRun(string Directory, RunReport Report, string Output)
{
    public string ModelPath => Path.Combine(Directory, TrainingRun.ModelFile);
}

/// <summary>
/// <c>trainer train</c> as a user runs it, in a child process, with the shipped defaults (test-time augmentation,
/// <c>--export</c>, image size, batch size, split) on 8 + 8 real photos for one epoch; then the same photos forced to
/// <c>--export ensemble</c> of <c>features</c> and <c>finetune</c> (the strategy and its dependency: two members, one with
/// its last stage moved), which reads the first run's features cache. Made once for the tests that read them.
/// </summary>
public sealed class ShippedDefaultsFixture : IDisposable
{
    /// <summary>Only what keeps the run to seconds and inside the test's folder: the options under test keep their defaults.</summary>
    public const int LimitPerClass = 8;
    public const int Epochs = 1;

    // Under a loaded CI machine two trainings of three strategies at 256 px take longer than the helper's default.
    private static readonly TimeSpan RunLimit = TimeSpan.FromMinutes(6);

    private readonly string _root = TestData.NewTempDirectory();

    public ShippedDefaultsFixture()
    {
        Defaults = Train("runs-defaults");
        // The ensemble's file is what is under test, not frozen's training or the report's pass over every photo.
        Ensemble = Train("runs-ensemble", "--strategy", FinetuneStrategy.StrategyName, "--export", "ensemble", "--report-photos", "none");
    }

    internal TrainerRun Defaults { get; }

    internal TrainerRun Ensemble { get; }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temp folder must not fail tests that passed.
        }
    }

    private TrainerRun Train(string outputFolder, params string[] extra)
    {
        var output = Path.Combine(_root, outputFolder);
        string[] args =
        [
            "train", "--data", TestData.DogsVsCatsRoot, "--limit", $"{LimitPerClass}", "--epochs", $"{Epochs}",
            "--out", output, "--cache-dir", Path.Combine(_root, "cache"), .. extra,
        ];
        var (code, stdout, stderr) = TrainerCliTests.Trainer(RunLimit, args);
        Assert.True(code == ExitCodes.Ok, $"trainer {string.Join(' ', args)} exited {code}: {stderr}");
        var directory = Directory.GetDirectories(output).Single();
        var report = JsonSerializer.Deserialize<RunReport>(File.ReadAllText(Path.Combine(directory, ReportWriter.JsonFile)), ReportWriter.JsonOptions)!;
        return new TrainerRun(directory, report, stdout);
    }
}
