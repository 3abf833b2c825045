using System.CommandLine;
using DogsVsCats.Vision.Shared;
using DogsVsCats.Vision.Trainer.Cli;
using DogsVsCats.Vision.Trainer.Run;

namespace DogsVsCats.Vision.Tests.Cli;

/// <summary>What <c>train --resume</c> refuses, each with exit code 2 and what to do, before any photo is read.</summary>
[Trait("Category", "Fast")]
public sealed class TrainerResumeTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void Resume_MissingFolder_ExitsNamingIt()
    {
        var missing = Path.Combine(_temp.Path, "runs", "20261206-120000");

        var (code, error) = Train("--resume", missing);

        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains($"--resume {missing}: no such folder", error, StringComparison.Ordinal);
        Assert.Contains("Run folder:", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Resume_FolderWithoutRunRecord_ExitsSayingItIsNoRunFolder()
    {
        var (code, error) = Train("--resume", _temp.Path);

        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains("not a run folder (it has no run.json)", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Resume_FinishedRun_ExitsPointingToItsReport()
    {
        RunFolder.Start(_temp.Path, new RunRecord(DateTimeOffset.Now, ["--data", MissingData, "--epochs", "2"], Finished: false));
        RunFolder.Finish(_temp.Path);

        var (code, error) = Train("--resume", _temp.Path);

        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains("that run finished", error, StringComparison.Ordinal);
        Assert.Contains(Path.Combine(_temp.Path, "report.md"), error, StringComparison.Ordinal);
    }

    [Fact]
    public void Resume_OptionContradictingTheRun_ExitsNamingBothValues()
    {
        RunFolder.Start(_temp.Path, new RunRecord(DateTimeOffset.Now, ["--data", MissingData, "--epochs", "2", "--lr", "0.001"], Finished: false));

        var (code, error) = Train("--resume", _temp.Path, "--epochs", "3");

        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains("--epochs 3 contradicts the run's --epochs 2", error, StringComparison.Ordinal);
        Assert.Contains("without --resume", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Resume_OptionsAgreeingWithTheRunOrOnlyHowToRun_AcceptedAndTheRecordedDataUsed()
    {
        RunFolder.Start(_temp.Path, new RunRecord(DateTimeOffset.Now, ["--data", MissingData, "--epochs", "2", "--lr", "0.001"], Finished: false));

        // The same values written otherwise, and an option that only says where to run: the run goes on to its data,
        // which is missing here, so it stops there (before any training) instead of at the options.
        var (code, error) = Train("--resume", _temp.Path, "--epochs", "2", "--lr", "1e-3", "--device", "cpu");

        Assert.Equal(ExitCodes.BadInput, code);
        Assert.DoesNotContain("contradicts", error, StringComparison.Ordinal);
        Assert.Contains(MissingData, error, StringComparison.Ordinal);
    }

    [Fact]
    public void Train_NeitherDataNorResume_ExitsSayingWhatIsNeeded()
    {
        var (code, error) = Train();

        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains("--data is required", error, StringComparison.Ordinal);
        Assert.Contains("--resume RUN_FOLDER", error, StringComparison.Ordinal);
    }

    private string MissingData => Path.Combine(_temp.Path, "no-photos-here");

    private static (int Code, string Error) Train(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var code = TrainerCli.Build().Parse(["train", .. args]).Invoke(new InvocationConfiguration { Output = output, Error = error });
        return (code, error.ToString());
    }
}
