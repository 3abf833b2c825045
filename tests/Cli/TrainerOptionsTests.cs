using DogsVsCats.Vision.Shared;
using DogsVsCats.Vision.Trainer.Cli;
using DogsVsCats.Vision.Trainer.Export;
using DogsVsCats.Vision.Trainer.Run;
using DogsVsCats.Vision.Trainer.Selection;
using DogsVsCats.Vision.Trainer.Training;

namespace DogsVsCats.Vision.Tests.Cli;

/// <summary>
/// Every option of <c>train</c> and <c>export</c>, in process: given a value other than its default, that value reaches
/// the request or settings the command hands to its work. The options are read from the parser, so an option added
/// without a row here fails.
/// </summary>
[Trait("Category", "Fast")]
public sealed class TrainerOptionsTests
{
    private static readonly bool Cuda = TorchSharp.torch.cuda.is_available();

    private static readonly string[] Train = ["train", "--data", "photos"];

    private static readonly string[] Export = ["export", "--checkpoint", "frozen/best.pt"];

    /// <summary>One option's proof: the arguments that set it and what the command's request must then hold.</summary>
    private sealed record Row(string Option, string[] Args, Func<Handed, object?> Read, object? Expected, int Code = ExitCodes.Ok);

    /// <summary>What a command handed to its work; null where it never got there.</summary>
    private sealed record Handed(RunRequest? Request, TrainingSettings? Settings, ExportRequest? Export);

    // A run folder whose run.json records a run that has not finished: what --resume continues. (No --data is given:
    // its recorded one is used; TrainerResumeTests covers --data missing with neither.)
    private static readonly Lazy<string> UnfinishedRun = new(() =>
    {
        var folder = TestData.NewTempDirectory();
        RunFolder.Start(folder, new RunRecord(DateTimeOffset.Now, ["--data", "recorded-photos", "--epochs", "2"], Finished: false));
        return folder;
    });

    private static readonly Row[] TrainRows =
    [
        new("--data", ["train", "--data", "other-photos"], h => h.Request!.DataRoot, "other-photos"),
        new("--resume", ["train", "--resume", UnfinishedRun.Value], h => h.Request!.Resume, UnfinishedRun.Value),
        new("--strategy", [.. Train, "--strategy", "features"], h => h.Request!.Strategy, "features"),
        new("--backbone", [.. Train, "--backbone", "resnet50"], h => h.Request!.Backbone.Name, "resnet50"),
        new("--weights", [.. Train, "--weights", "resnet50.pth"], h => h.Request!.Backbone.WeightsPath, "resnet50.pth"),
        new("--image-size", [.. Train, "--image-size", "160"], h => h.Request!.Backbone.ImageSize, 160),
        new("--unfreeze", [.. Train, "--unfreeze", "layer3, layer4"], h => string.Join('+', h.Settings!.Unfreeze ?? []), "layer3+layer4"),
        new("--frozen-engine", [.. Train, "--frozen-engine", "torch"], h => h.Settings!.FrozenEngine, FrozenEngine.Torch),
        new("--precision", [.. Train, "--precision", "fp32"], h => h.Settings!.Precision, TrainingPrecision.Fp32),
        new("--epochs", [.. Train, "--epochs", "2"], h => h.Settings!.Epochs, 2),
        new("--patience", [.. Train, "--patience", "5"], h => h.Settings!.Patience, 5),
        new("--batch-size", [.. Train, "--batch-size", "8"], h => h.Settings!.BatchSize, 8),
        new("--lr", [.. Train, "--lr", "0.01"], h => h.Settings!.LearningRate, 0.01),
        new("--finetune-lr", [.. Train, "--finetune-lr", "0.002"], h => h.Settings!.FinetuneLearningRate, 0.002),
        new("--head-lr", [.. Train, "--head-lr", "0.05"], h => h.Settings!.FinetuneHeadLearningRate, 0.05),
        new("--finetune-schedule", [.. Train, "--finetune-schedule", "cosine"], h => h.Settings!.FinetuneSchedule, ScheduleKind.Cosine),
        new("--warmup-epochs", [.. Train, "--warmup-epochs", "2.5"], h => h.Settings!.WarmupEpochs, 2.5),
        new("--momentum", [.. Train, "--momentum", "0.5"], h => h.Settings!.Momentum, 0.5),
        new("--decay", [.. Train, "--decay", "0.0001"], h => h.Settings!.Decay, 0.0001),
        new("--no-augment", [.. Train, "--no-augment"], h => h.Settings!.Augment, false),
        new("--val-split", [.. Train, "--val-split", "0.3"], h => h.Request!.ValidationFraction, 0.3),
        new("--seed", [.. Train, "--seed", "7"], h => h.Settings!.Seed, 7),
        new("--limit", [.. Train, "--limit", "5"], h => h.Request!.LimitPerClass, 5),
        new("--out", [.. Train, "--out", "elsewhere"], h => h.Request!.OutputRoot, "elsewhere"),
        new("--cache-dir", [.. Train, "--cache-dir", "feature-cache"], h => h.Settings!.CacheDirectory, "feature-cache"),
        new("--threads", [.. Train, "--threads", "3"], h => h.Request!.TorchThreads, 3),
        new("--decode-threads", [.. Train, "--decode-threads", "3"], h => h.Request!.DecodeThreads, 3),
        new("--int8", [.. Train, "--int8"], h => h.Request!.WriteInt8Model, true),
        new("--tta", [.. Train, "--tta", "none"], h => h.Request!.Tta, TestTimeAugmentation.None),
        new("--export", [.. Train, "--export", "ensemble"], h => h.Request!.Export, ExportChoice.Ensemble),
        new("--export", [.. Train, "--export", "finetune"], h => h.Request!.Export, ExportChoice.Of("finetune")),
        new("--report-photos", [.. Train, "--report-photos", "validation"], h => h.Request!.ReportPhotos, ReportPhotos.Validation),
        // Without a GPU --device cuda is refused with what to do, which also shows the value reached the device choice.
        new("--device", [.. Train, "--device", "cuda"], h => h.Settings?.Device.type, Cuda ? TorchSharp.DeviceType.CUDA : null, Cuda ? ExitCodes.Ok : ExitCodes.BadInput),
    ];

    private static readonly Row[] ExportRows =
    [
        new("--checkpoint", ["export", "--checkpoint", "finetune/best.pt"], h => h.Export!.Checkpoint, "finetune/best.pt"),
        new("--out", [.. Export, "--out", "cats.onnx"], h => h.Export!.Output, "cats.onnx"),
        new("--force", [.. Export, "--force"], h => h.Export!.Force, true),
        new("--quantize", [.. Export, "--quantize", "int8"], h => h.Export!.WriteInt8Model, true),
        new("--calibration", [.. Export, "--calibration", "photos"], h => h.Export!.Calibration, "photos"),
        new("--calibration-images", [.. Export, "--calibration-images", "50"], h => h.Export!.Quantization.CalibrationImages, 50),
        new("--calibration-method", [.. Export, "--calibration-method", "Percentile"], h => h.Export!.Quantization.Method, CalibrationMethod.Percentile),
        new("--tta", [.. Export, "--tta", "none"], h => h.Export!.Tta, TestTimeAugmentation.None),
    ];

    public static TheoryData<string> Commands => new() { "train", "export" };

    [Theory]
    [MemberData(nameof(Commands))]
    public void EveryOption_HasARow(string command)
    {
        var options = TrainerCli.Build().Subcommands.Single(c => c.Name == command).Options.Select(o => o.Name).Order();

        Assert.Equal(options, RowsOf(command).Select(r => r.Option).Distinct().Order());
    }

    [Theory]
    [MemberData(nameof(Commands))]
    public async Task EveryOption_ReachesWhatItSets(string command)
    {
        var defaults = await Hand(command == "train" ? Train : Export);
        Assert.Equal(ExitCodes.Ok, defaults.Code);

        foreach (var row in RowsOf(command))
        {
            var handed = await Hand(row.Args);

            Assert.True(!Equals(row.Read(defaults.Handed), row.Expected), $"{row.Option}: {row.Expected} is its default, so this row proves nothing");
            Assert.True(row.Code == handed.Code, $"{string.Join(' ', row.Args)}: exit {handed.Code}");
            Assert.True(Equals(row.Read(handed.Handed), row.Expected), $"{row.Option} {row.Args[^1]}: handed {row.Read(handed.Handed) ?? "nothing"}, expected {row.Expected}");
        }
    }

    [Theory]
    [InlineData("--epochs", "train", "--data", "photos", "--epochs", "many")]
    [InlineData("--lr", "train", "--data", "photos", "--lr", "fast")]
    [InlineData("--device", "train", "--data", "photos", "--device", "tpu")]
    [InlineData("--export", "train", "--data", "photos", "--export", "best")]
    [InlineData("--bogus", "train", "--data", "photos", "--bogus")]
    [InlineData("--calibration-images", "export", "--checkpoint", "c.pt", "--calibration-images", "q")]
    [InlineData("--calibration-method", "export", "--checkpoint", "c.pt", "--calibration-method", "median")]
    [InlineData("--quantize", "export", "--checkpoint", "c.pt", "--quantize", "int4")]
    public async Task ParseError_ExitsTwoNamingTheOption(string option, params string[] args)
    {
        using var error = new StringWriter();

        var handed = await Hand(args, error);

        Assert.Equal(ExitCodes.BadInput, handed.Code);
        Assert.Equal(new Handed(null, null, null), handed.Handed);
        var lines = error.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains(option, Assert.Single(lines, l => l.StartsWith("error: ", StringComparison.Ordinal)), StringComparison.Ordinal);
        Assert.EndsWith($" {args[0]} --help'.", lines[^1], StringComparison.Ordinal);
    }

    private static Row[] RowsOf(string command) => command == "train" ? TrainRows : ExportRows;

    /// <summary>Runs the command line as the program does, up to the point where the command hands its request on.</summary>
    private static async Task<(int Code, Handed Handed)> Hand(string[] args, TextWriter? error = null)
    {
        var handed = new Handed(null, null, null);
        var root = TrainerCli.Build(
            (request, settings) =>
            {
                handed = handed with { Request = request, Settings = settings };
                return ExitCodes.Ok;
            },
            request =>
            {
                handed = handed with { Export = request };
                return ExitCodes.Ok;
            });
        var code = await CommandLineRun.InvokeAsync(root, args, error ?? TextWriter.Null);
        return (code, handed);
    }
}
