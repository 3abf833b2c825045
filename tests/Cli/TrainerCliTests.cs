using System.CommandLine;
using System.Diagnostics;
using DogsVsCats.Vision.Shared;
using DogsVsCats.Vision.Trainer.Cli;

namespace DogsVsCats.Vision.Tests.Cli;

/// <summary>Runs the built trainer as a user would (a separate process) and checks what it says and returns.</summary>
[Trait("Category", "Slow")]
public sealed class TrainerCliTests
{
    [Fact]
    public void TrainHelp_Always_DocumentsEveryOption()
    {
        var (code, output, _) = Trainer("train", "--help");
        Assert.Equal(0, code);
        var train = TrainerCli.Build().Subcommands.Single(c => c.Name == "train");
        Assert.NotEmpty(train.Options);
        foreach (var option in train.Options)
        {
            Assert.Contains(option.Name, output, StringComparison.Ordinal);
            if (option.Description is { Length: > 0 } description)
            {
                Assert.Contains(description[..Math.Min(30, description.Length)], output.Replace("\n", " ", StringComparison.Ordinal).Replace("  ", " ", StringComparison.Ordinal), StringComparison.Ordinal);
            }
        }
    }

    [Fact]
    public void Train_MissingFolder_ExitsWithClearError()
    {
        var missing = Path.Combine(Path.GetTempPath(), "dogsvscats-no-such-folder-" + Guid.NewGuid().ToString("N"));
        var (code, _, error) = Trainer("train", "--data", missing);
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains("does not exist", error, StringComparison.Ordinal);
        Assert.Contains(missing, error, StringComparison.Ordinal);
    }

    [Fact]
    public void Train_OneClass_ExitsWithClearError()
    {
        var root = TestData.NewTempDirectory();
        try
        {
            TestData.CopyClassFolders(root, 2, "cat");
            var (code, _, error) = Trainer("train", "--data", root, "--out", Path.Combine(root, "runs"));
            Assert.Equal(ExitCodes.BadInput, code);
            Assert.Contains("at least two are needed", error, StringComparison.Ordinal);
            Assert.False(Directory.Exists(Path.Combine(root, "runs")), "no run folder for a run that could not start");
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void Train_EmptyClassFolder_ExitsNamingTheClass()
    {
        var root = TestData.NewTempDirectory();
        try
        {
            TestData.CopyClassFolders(root, 2, "cat", "dog");
            Directory.CreateDirectory(Path.Combine(root, "fox"));
            var (code, _, error) = Trainer("train", "--data", root, "--out", Path.Combine(root, "runs"));
            Assert.Equal(ExitCodes.BadInput, code);
            Assert.Contains("fox", error, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void Train_UnknownStrategy_RejectedByParser()
    {
        var (code, _, error) = Trainer("train", "--data", TestData.DogsVsCatsRoot, "--strategy", "bottleneck");
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains("--strategy: Argument 'bottleneck' not recognized", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Train_UnknownPrecision_RejectedByParserNamingTheChoices()
    {
        var (code, _, error) = Trainer("train", "--data", TestData.DogsVsCatsRoot, "--precision", "fp16");
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains("--precision", error, StringComparison.Ordinal);
        Assert.Contains("fp16", error, StringComparison.Ordinal);
        Assert.Contains("bf16", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--epochs", "train", "--data", "photos", "--epochs", "many")]
    [InlineData("--bogus", "train", "--data", "photos", "--bogus")]
    [InlineData("--calibration-method", "export", "--checkpoint", "c.pt", "--calibration-method", "median")]
    public void ParseError_ExitsTwoWithOneLineNamingTheOption(string option, params string[] args)
    {
        var (code, output, error) = Trainer(args);

        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Equal([$"See 'trainer {args[0]} --help'."], error.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => !l.StartsWith("error: ", StringComparison.Ordinal)));
        Assert.Contains(option, error, StringComparison.Ordinal);
        Assert.Empty(output);   // the error, not the whole help text
    }

    [NoCudaFact]
    public void Train_CudaWithoutGpu_ExitsWithWhatToDo()
    {
        var (code, _, error) = Trainer("train", "--data", TestData.DogsVsCatsRoot, "--device", "cuda");
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains("TorchBackend=cuda", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Train_TorchvisionBackboneWithoutWeights_ExitsWithWhatToDo()
    {
        var (code, _, error) = Trainer("train", "--data", TestData.DogsVsCatsRoot, "--backbone", "inception_v3");
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains("--backbone inception_v3 needs --weights FILE", error, StringComparison.Ordinal);
        Assert.Contains("README", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Train_UnfreezeUnknownBlock_ExitsNamingTheValidOnes()
    {
        var root = TestData.NewTempDirectory();
        try
        {
            var (code, output, error) = Trainer("train", "--data", TestData.DogsVsCatsRoot, "--unfreeze", "layer3,layer9", "--out", Path.Combine(root, "runs"));
            Assert.Equal(ExitCodes.BadInput, code);
            Assert.Contains("'layer9'", error, StringComparison.Ordinal);
            Assert.DoesNotContain("'layer3'", error, StringComparison.Ordinal);
            Assert.Contains("layer1, layer2, layer3, layer4", error, StringComparison.Ordinal);
            Assert.DoesNotContain("Decoded", output, StringComparison.Ordinal);   // refused before any photo is decoded
            Assert.False(Directory.Exists(Path.Combine(root, "runs")), "no run folder for a run that could not start");
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>Runs the built trainer with <paramref name="args"/>; returns its exit code, stdout and stderr.</summary>
    public static (int Code, string Output, string Error) Trainer(params string[] args) => Trainer(TimeSpan.FromMinutes(2), args);

    /// <summary>The same, for a command that may take longer than two minutes (a training run).</summary>
    public static (int Code, string Output, string Error) Trainer(TimeSpan limit, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "trainer.dll"));
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(limit))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"trainer {string.Join(' ', args)} did not finish in {limit.TotalMinutes:0.#} minutes");
        }

        return (process.ExitCode, output.Result, error.Result);
    }
}

/// <summary>A fact skipped, and reported as skipped, where TorchSharp sees a CUDA device (there --device cuda is valid).</summary>
public sealed class NoCudaFactAttribute : FactAttribute
{
    public NoCudaFactAttribute()
    {
        if (TorchSharp.torch.cuda.is_available())
        {
            Skip = "TorchSharp sees a CUDA device here: this test covers machines without one.";
        }
    }
}
