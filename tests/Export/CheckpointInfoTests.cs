using DogsVsCats.Vision.Shared;
using DogsVsCats.Vision.Trainer.Export;
using DogsVsCats.Vision.Trainer.Models;

namespace DogsVsCats.Vision.Tests.Export;

[Trait("Category", "Fast")]
public sealed class CheckpointInfoTests : IDisposable
{
    private readonly string folder = TestData.NewTempDirectory();

    private string Checkpoint => Path.Combine(folder, "best.pt");

    public void Dispose() => Directory.Delete(folder, recursive: true);

    [Fact]
    public void Load_WhatSaveWrote_IsTheDescriptionTheExportCarries()
    {
        var description = CheckpointInfo.Describe(CntkResNet18.Description, ["cat", "dog"], "finetune", 0.0312, 0.9883);

        CheckpointInfo.Save(description, Checkpoint);
        File.WriteAllText(Checkpoint, "weights");
        var read = CheckpointInfo.Load(Checkpoint);

        Assert.Equal(description.ToProperties(), read.ToProperties());
        Assert.Contains("\"dogsvscats.labels\"", File.ReadAllText(CheckpointInfo.PathFor(Checkpoint)), StringComparison.Ordinal);
    }

    [Fact]
    public void Load_DescriptionOfAnEarlierVersion_StillExportsWithTheBackbonesInput()
    {
        File.WriteAllText(Checkpoint, "weights");
        File.WriteAllText(CheckpointInfo.PathFor(Checkpoint), """
            {
              "backbone": "inception_v3",
              "labels": ["cat", "dog"],
              "strategy": "frozen",
              "validationLoss": 0.0323,
              "validationAccuracy": 0.9867,
              "trainedAt": "2026-11-28T14:16:30.0000000+00:00"
            }
            """);

        var read = CheckpointInfo.Load(Checkpoint);

        Assert.Equal(("inception_v3", 299, 299, "frozen", 0.0323), (read.Backbone, read.InputWidth, read.InputHeight, read.Strategy, read.ValidationLoss));
        Assert.Equal(["cat", "dog"], read.Labels);
        Assert.Equal(new DateTimeOffset(2026, 11, 28, 14, 16, 30, TimeSpan.Zero), read.TrainedAt);
        Assert.Equal(TorchvisionInceptionV3.Description.Preprocessing, read.Preprocessing);
    }

    [Fact]
    public void Load_DescriptionBreakingTheContract_IsAnExportErrorNamingIt()
    {
        var description = CheckpointInfo.Describe(CntkResNet18.Description, ["cat", "dog"], "features", 0.03, 0.99) with { Interpolation = "INTER_CUBIC" };
        CheckpointInfo.Save(description, Checkpoint);
        File.WriteAllText(Checkpoint, "weights");

        var error = Assert.Throws<ExportException>(() => CheckpointInfo.Load(Checkpoint));

        Assert.Contains("INTER_CUBIC", error.Message, StringComparison.Ordinal);
        Assert.Contains(CheckpointInfo.PathFor(Checkpoint), error.Message, StringComparison.Ordinal);
    }
}
