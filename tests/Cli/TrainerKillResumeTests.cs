using System.Diagnostics;
using System.Text.Json;
using DogsVsCats.Vision.Trainer.Training;

namespace DogsVsCats.Vision.Tests.Cli;

/// <summary>A real training run killed with SIGKILL in its second epoch, then <c>train --resume</c>d, against the same run uninterrupted.</summary>
[Trait("Category", "Slow")]
public sealed class TrainerKillResumeTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Resume_AfterSigkillInTheSecondEpoch_EndsAsTheUninterruptedRun()
    {
        var (wholeCode, wholeOutput, wholeError) = TrainerCliTests.Trainer(Args(Path.Combine(_temp.Path, "whole")));
        Assert.True(wholeCode == 0, $"the uninterrupted run failed ({wholeCode}):\n{wholeOutput}\n{wholeError}");

        var killedRoot = Path.Combine(_temp.Path, "killed");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in Args(killedRoot).Prepend(Path.Combine(AppContext.BaseDirectory, "trainer.dll")))
        {
            start.ArgumentList.Add(arg);
        }

        string checkpoint;
        using (var process = Process.Start(start)!)
        {
            var output = process.StandardOutput.ReadToEndAsync();
            var error = process.StandardError.ReadToEndAsync();
            // The first epoch's checkpoint, then its best.pt (every first epoch is the best so far), each renamed into
            // place whole: the second epoch begins.
            var clock = Stopwatch.StartNew();
            string? found;
            while ((found = Directory.Exists(killedRoot) ? Directory.EnumerateFiles(killedRoot, FitCheckpoint.FileName, SearchOption.AllDirectories).FirstOrDefault(c => File.Exists(Path.Combine(Path.GetDirectoryName(c)!, "best.pt"))) : null) is null)
            {
                if (process.HasExited)
                {
                    Assert.Fail($"the run ended before its first checkpoint:\n{await output}\n{await error}");
                }

                Assert.True(clock.Elapsed < TimeSpan.FromMinutes(2), "no checkpoint within 2 minutes");
                await Task.Delay(20);
            }

            checkpoint = found;
            process.Kill();   // SIGKILL: no handler runs, nothing is flushed
            await process.WaitForExitAsync();
        }

        var strategy = Path.GetDirectoryName(checkpoint)!;
        var run = Path.GetDirectoryName(strategy)!;
        Assert.True(File.ReadAllLines(Path.Combine(strategy, "epochs.csv")).Length == 2, "the kill came after the second epoch ended: the test did not interrupt it");
        Assert.False(File.Exists(Path.Combine(run, "report.json")));

        var (code, resumedOutput, resumedError) = TrainerCliTests.Trainer("train", "--resume", run);

        Assert.True(code == 0, $"the resumed run failed ({code}):\n{resumedOutput}\n{resumedError}");
        Assert.Contains("resumed after epoch 1 of 2", resumedOutput, StringComparison.Ordinal);
        var (whole, resumed) = (Epochs(Path.Combine(_temp.Path, "whole")), Epochs(run));
        Assert.Equal(whole.Count, resumed.Count);
        Assert.Equal(2, resumed.Count);
        // The same seed, and every random draw seeded by (seed, epoch): equal but for the order of float sums.
        Assert.Equal(whole[^1], resumed[^1], 1e-4);
        Assert.Equal(whole[0], resumed[0], 1e-4);
    }

    private string[] Args(string output) =>
    [
        "train", "--data", TestData.DogsVsCatsRoot, "--strategy", "frozen", "--epochs", "2", "--limit", "16", "--image-size", "160", "--batch-size", "8",
        "--seed", "7", "--tta", "none", "--export", "winner", "--report-photos", "none", "--out", output, "--cache-dir", Path.Combine(_temp.Path, "cache"),
    ];

    /// <summary>The validation loss of each epoch of the one strategy in the report of the run in (or under) <paramref name="folder"/>.</summary>
    private static List<double> Epochs(string folder)
    {
        var report = Directory.GetFiles(folder, "report.json", SearchOption.AllDirectories).Single();
        using var json = JsonDocument.Parse(File.ReadAllText(report));
        var strategy = json.RootElement.GetProperty("strategies").EnumerateArray().Single();
        return [.. strategy.GetProperty("epochs").EnumerateArray().Select(e => e.GetProperty("validationLoss").GetDouble())];
    }
}
