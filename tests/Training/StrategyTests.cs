using System.Globalization;
using DogsVsCats.Vision.Tests.Fixtures;
using DogsVsCats.Vision.Trainer.Models;
using DogsVsCats.Vision.Trainer.Run;
using DogsVsCats.Vision.Trainer.Strategies;
using DogsVsCats.Vision.Trainer.Training;
using static TorchSharp.torch;

namespace DogsVsCats.Vision.Tests.Training;

[Collection(SmallRunGroup.Name)]
[Trait("Category", "Slow")]
public sealed class StrategyTests(SmallRunFixture run)
{
    [Theory]
    [InlineData(FrozenStrategy.StrategyName)]
    [InlineData(FeaturesStrategy.StrategyName)]
    [InlineData(FinetuneStrategy.StrategyName)]
    public void Strategy_SmallRealSubset_LossFallsAndAccuracyBeatsChance(string name)
    {
        var result = run.Strategy(name);
        Assert.Equal(SmallRunFixture.Epochs, result.Epochs.Count);
        if (name == FinetuneStrategy.StrategyName)
        {
            // finetune starts from the trained features head, near its floor, where three epochs of augmented batches move
            // the train loss up or down by noise; what must hold is that it starts, and stays, where features ended.
            var features = run.Strategy(FeaturesStrategy.StrategyName).Epochs;
            Assert.True(result.Epochs.Max(e => e.TrainLoss) < features[0].TrainLoss, $"{name}: train loss up to {result.Epochs.Max(e => e.TrainLoss):F4}, not below the features head's first epoch {features[0].TrainLoss:F4}");
        }
        else
        {
            Assert.True(result.Epochs[^1].TrainLoss < result.Epochs[0].TrainLoss, $"{name}: train loss {result.Epochs[0].TrainLoss:F4} -> {result.Epochs[^1].TrainLoss:F4} did not fall");
        }

        Assert.True(result.ValidationAccuracy > 0.75, $"{name}: validation accuracy {result.ValidationAccuracy:P1} is not above 75 %");
        Assert.True(result.ValidationLoss < Math.Log(2), $"{name}: validation loss {result.ValidationLoss:F4} is no better than chance (ln 2)");
        Assert.Equal(result.Epochs.Min(e => e.ValidationLoss), result.ValidationLoss, 5);
    }

    [Fact]
    public void Frozen_AfterTraining_BackboneIdenticalToPretrained()
    {
        var changed = ChangedBackboneTensors(run.Strategy(FrozenStrategy.StrategyName).CheckpointPath);
        Assert.Empty(changed);
        Assert.True(run.Strategy(FrozenStrategy.StrategyName).FrozenParameters > 10_000_000);
        Assert.Equal(512 * 2 + 2, run.Strategy(FrozenStrategy.StrategyName).TrainableParameters);
    }

    [Fact]
    public void Finetune_AfterTraining_OnlyLastStageChanged()
    {
        var changed = ChangedBackboneTensors(run.Strategy(FinetuneStrategy.StrategyName).CheckpointPath);
        Assert.NotEmpty(changed);
        Assert.All(changed, name => Assert.StartsWith("backbone.layer4.", name, StringComparison.Ordinal));
        // Whole blocks: every convolution of every layer4 block moved (3 in the first block with its shortcut, 2 in each other).
        var layer4Convolutions = changed.Where(n => n.EndsWith(".weight", StringComparison.Ordinal) && (n.Contains(".conv", StringComparison.Ordinal) || n.Contains("downsample.0", StringComparison.Ordinal))).ToList();
        Assert.Equal(7, layer4Convolutions.Count);
        // BatchNorm keeps its ImageNet statistics (re-estimated on small augmented batches they undid the loaded head);
        // the scale and shift of layer4's still train.
        Assert.DoesNotContain(changed, n => n.EndsWith(".running_mean", StringComparison.Ordinal) || n.EndsWith(".running_var", StringComparison.Ordinal));
        Assert.Contains(changed, n => n.Contains(".bn", StringComparison.Ordinal) && n.EndsWith(".bias", StringComparison.Ordinal));
    }

    [Fact]
    public void Finetune_StartsFromFeaturesHead_ValidationLossAfterLoadingIsTheFeaturesHeads()
    {
        // The features head (features/best.pt) on the pretrained backbone, evaluated here independently of the run.
        var data = TrainingRun.Load(run.Request(FinetuneStrategy.StrategyName, "unused"), new QuietProgress());
#pragma warning disable CA2000 // the TransferModel registers backbone and head and disposes them with itself
        using var model = new TransferModel(Backbones.Create(BackboneSpec.Default), new ClassifierHead(512, data.Split.Classes.Count));
#pragma warning restore CA2000
        model.Head.load(Path.Combine(run.RunDirectory, FeaturesStrategy.StrategyName, FeaturesStrategy.HeadCheckpoint));
        var expected = Fitter.Evaluate(model, model.call, new ImageBatchSource(data.Validation, CPU), SmallRunFixture.BatchSize, new QuietProgress(), "features head");

        var note = Assert.Single(run.Strategy(FinetuneStrategy.StrategyName).Notes, n => n.Contains("after loading the features head", StringComparison.Ordinal));
        Assert.Contains("with a fresh head", note, StringComparison.Ordinal);
        Assert.Contains(string.Create(CultureInfo.InvariantCulture, $"(loss {expected.Loss:F4}) after loading the features head"), note, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_Always_WritesReportCheckpointsCsvAndTensorBoard()
    {
        foreach (var file in new[] { "report.md", "report.json", "loss_curves.png", "confusion_matrix.png", "model.onnx" })
        {
            Assert.True(File.Exists(Path.Combine(run.RunDirectory, file)), file);
        }

        foreach (var strategy in StrategyRegistry.Plan(StrategyRegistry.All).Select(s => s.Name))
        {
            var folder = Path.Combine(run.RunDirectory, strategy);
            Assert.True(File.Exists(Path.Combine(folder, "best.pt")), $"{strategy}/best.pt");
            Assert.Equal(1 + 3, File.ReadAllLines(Path.Combine(folder, "epochs.csv")).Length);
            Assert.NotEmpty(System.IO.Directory.GetFiles(Path.Combine(folder, "tensorboard"), "events.out.tfevents.*"));
        }

        Assert.Contains(run.Report.Winner, StrategyRegistry.Plan(StrategyRegistry.All).Select(s => s.Name));
        var best = run.Report.Strategies.MinBy(s => s.ValidationLoss)!;
        Assert.Equal(best.Strategy, run.Report.Winner);
    }

    [Fact]
    public void Features_SecondRun_ReadsCacheInsteadOfExtracting()
    {
        var first = run.Strategy(FeaturesStrategy.StrategyName);
        Assert.Contains(first.Notes, n => n.Contains("extracted and cached", StringComparison.Ordinal));
        var settings = new TrainingSettings { BatchSize = 8, Epochs = 1, CacheDirectory = run.CacheDirectory };
        var (report, _) = TrainingRun.Execute(run.Request(FeaturesStrategy.StrategyName, "runs-again"), settings, new QuietProgress());
        var again = Assert.Single(report.Strategies);
        Assert.Equal(2, again.Notes.Count(n => n.Contains("read from cache", StringComparison.Ordinal)));
    }

    [Fact]
    public void Frozen_ValidatesOnPooledFeaturesOnce_SharedWithFeaturesThroughTheCache_SameLossAsImages()
    {
        var frozen = run.Strategy(FrozenStrategy.StrategyName);
        Assert.Contains(frozen.Notes, n => n.StartsWith("validation features extracted and cached", StringComparison.Ordinal));
        var features = run.Strategy(FeaturesStrategy.StrategyName);
        Assert.Contains(features.Notes, n => n.StartsWith("validation features read from cache", StringComparison.Ordinal));
        Assert.Contains(features.Notes, n => n.StartsWith("train features extracted and cached", StringComparison.Ordinal));

        // frozen/best.pt, every image through the whole TorchSharp network: the loss the run measured on pooled features.
        var data = TrainingRun.Load(run.Request(FrozenStrategy.StrategyName, "unused"), new QuietProgress());
#pragma warning disable CA2000 // the TransferModel registers backbone and head and disposes them with itself
        using var model = new TransferModel(Backbones.Create(BackboneSpec.Default), new ClassifierHead(512, data.Split.Classes.Count));
#pragma warning restore CA2000
        model.load(frozen.CheckpointPath);
        var evaluated = Fitter.Evaluate(model, model.call, new ImageBatchSource(data.Validation, CPU), 8, new QuietProgress(), "frozen best.pt");
        Assert.Equal(frozen.ValidationLoss, evaluated.Loss, 4);
        Assert.Equal(frozen.ValidationAccuracy, evaluated.Accuracy, 6);
    }

    [Fact]
    public void Features_ManyEpochsPatienceTwo_StopsEarlyAndBestPtHoldsTheBestEpoch()
    {
        // Cached vectors (from the shared run) make each epoch take milliseconds, so 300 epochs cost nothing unless
        // early stopping never fires.
        const int epochs = 300;
        const int patience = 2;
        var settings = new TrainingSettings { BatchSize = 8, Epochs = epochs, Patience = patience, CacheDirectory = run.CacheDirectory };
        var (report, directory) = TrainingRun.Execute(run.Request(FeaturesStrategy.StrategyName, "runs-early-stop"), settings, new QuietProgress());
        var result = Assert.Single(report.Strategies);

        var folder = Path.Combine(directory, FeaturesStrategy.StrategyName);
        var rows = File.ReadAllLines(Path.Combine(folder, "epochs.csv")).Skip(1)
            .Select(line => line.Split(','))
            .Select(f => (Epoch: int.Parse(f[0], CultureInfo.InvariantCulture), ValidationLoss: double.Parse(f[3], CultureInfo.InvariantCulture)))
            .ToList();
        Assert.True(rows.Count < epochs, $"no early stop: all {rows.Count} epochs ran");
        var best = rows.MinBy(r => r.ValidationLoss);
        Assert.Equal(best.Epoch + patience, rows[^1].Epoch);   // stopped exactly `patience` epochs after the best
        Assert.Equal(best.Epoch, result.BestEpoch);

        // best.pt (the head alone) on the cached validation vectors gives the best row's loss.
        var data = TrainingRun.Load(run.Request(FeaturesStrategy.StrategyName, "unused"), new QuietProgress());
#pragma warning disable CA2000 // the TransferModel registers backbone and head and disposes them with itself
        using var model = new TransferModel(Backbones.Create(BackboneSpec.Default), new ClassifierHead(512, data.Split.Classes.Count));
#pragma warning restore CA2000
        model.Head.load(Path.Combine(folder, FeaturesStrategy.HeadCheckpoint));
        var evaluated = Fitter.Evaluate(model, model.call, new ImageBatchSource(data.Validation, CPU), 8, new QuietProgress(), "best.pt");
        Assert.Equal(best.ValidationLoss, evaluated.Loss, 4);
    }

    private static List<string> ChangedBackboneTensors(string checkpoint) => BackboneChanges.InCheckpoint(BackboneSpec.Default, 2, checkpoint);
}
