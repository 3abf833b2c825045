using System.Globalization;
using System.Text;
using System.Text.Json;
using DogsVsCats.Vision.Shared;
using DogsVsCats.Vision.Tests.Fixtures;
using DogsVsCats.Vision.Trainer.Data;
using DogsVsCats.Vision.Trainer.Models;
using DogsVsCats.Vision.Trainer.Reporting;
using DogsVsCats.Vision.Trainer.Run;
using DogsVsCats.Vision.Trainer.Strategies;
using DogsVsCats.Vision.Trainer.Training;
using Microsoft.ML.OnnxRuntime;
using OpenCvSharp;
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

    // Enough held-out photos that a loss difference between the two models is not one photo's noise.
    private const int HeldOutPerClass = 100;

    [Fact]
    public void Finetune_FromTheFeaturesHead_LowersTheLossOnHeldOutPhotos()
    {
        // Photos in neither of the run's splits (finetune's best epoch was chosen on its validation photos), through the
        // head finetune started from (features/best.pt on the pretrained backbone) and through finetune's best.pt.
        var data = TrainingRun.Load(run.Request(FinetuneStrategy.StrategyName, "unused"), new QuietProgress());
        var used = data.Train.Paths.Concat(data.Validation.Paths).ToHashSet(StringComparer.Ordinal);
        var split = DatasetScanner.Scan(TestData.DogsVsCatsRoot, SmallRunFixture.ValidationFraction, 42);
        var heldOut = split.Validation.Where(f => !used.Contains(f.Path)).GroupBy(f => f.Label).SelectMany(g => g.Take(HeldOutPerClass)).ToList();
        var photos = ImageLoader.Check(heldOut, 224, 224, new SkipLog());
        Assert.Equal(2 * HeldOutPerClass, photos.Count);

#pragma warning disable CA2000 // the TransferModel registers backbone and head and disposes them with itself
        using var start = new TransferModel(Backbones.Create(BackboneSpec.Default), new ClassifierHead(512, data.Split.Classes.Count));
        using var finetuned = new TransferModel(Backbones.Create(BackboneSpec.Default), new ClassifierHead(512, data.Split.Classes.Count));
#pragma warning restore CA2000
        start.Head.load(Path.Combine(run.RunDirectory, FeaturesStrategy.StrategyName, FeaturesStrategy.HeadCheckpoint));
        finetuned.load(run.Strategy(FinetuneStrategy.StrategyName).CheckpointPath);
        var before = Fitter.Evaluate(start, start.call, new ImageBatchSource(photos, CPU), SmallRunFixture.BatchSize, new QuietProgress(), "features head");
        var after = Fitter.Evaluate(finetuned, finetuned.call, new ImageBatchSource(photos, CPU), SmallRunFixture.BatchSize, new QuietProgress(), "finetune best.pt");

        Assert.True(after.Loss < before.Loss, $"finetune's held-out loss {after.Loss:F4} is not below the features head's {before.Loss:F4}");
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
        // report.json reads back as the run's report; report.md names the winner and every strategy's validation loss.
        var json = JsonSerializer.Deserialize<RunReport>(File.ReadAllText(Path.Combine(run.RunDirectory, ReportWriter.JsonFile)), ReportWriter.JsonOptions)!;
        Assert.Equal(run.Report.Winner, json.Winner);
        Assert.Equal(run.Report.Strategies.Select(s => (s.Strategy, s.ValidationLoss, s.BestEpoch)), json.Strategies.Select(s => (s.Strategy, s.ValidationLoss, s.BestEpoch)));
        var md = File.ReadAllText(Path.Combine(run.RunDirectory, ReportWriter.MarkdownFile));
        Assert.Contains($"**{run.Report.Winner}**: {run.Report.WinnerReason}", md, StringComparison.Ordinal);
        Assert.All(run.Report.Strategies, s => Assert.Contains(s.ValidationLoss.ToString("F4", CultureInfo.InvariantCulture), md, StringComparison.Ordinal));

        // The plots are images with something drawn on them, not empty files.
        foreach (var plot in new[] { ReportWriter.LossCurvesFile, ReportWriter.ConfusionMatrixFile })
        {
            using var image = Cv2.ImRead(Path.Combine(run.RunDirectory, plot));
            Assert.False(image.Empty(), $"{plot} does not decode");
            Cv2.MeanStdDev(image, out _, out var spread);
            Assert.True(spread.Val0 > 10, $"{plot} is blank (std dev {spread.Val0:0.0})");
        }

        // model.onnx describes the winner.
        var model = Path.Combine(run.RunDirectory, TrainingRun.ModelFile);
        using (var session = new InferenceSession(model))
        {
            Assert.Equal(run.Report.Winner, ModelDescription.FromProperties(session.ModelMetadata.CustomMetadataMap, model).Strategy);
        }

        foreach (var result in run.Report.Strategies)
        {
            var folder = Path.Combine(run.RunDirectory, result.Strategy);
            Assert.True(File.Exists(Path.Combine(folder, "best.pt")), $"{result.Strategy}/best.pt");
            // epochs.csv holds the report's epochs, every figure round-tripped ("R").
            var rows = File.ReadAllLines(Path.Combine(folder, "epochs.csv"));
            Assert.Equal(EpochCsvLog.Header, rows[0]);
            var epochs = rows.Skip(1).Select(line => line.Split(',').Select(f => double.Parse(f, CultureInfo.InvariantCulture)).ToArray()).ToList();
            Assert.Equal(result.Epochs.Select(e => new[] { e.Epoch, e.TrainLoss, e.TrainAccuracy, e.ValidationLoss, e.ValidationAccuracy, e.Seconds, e.LearningRate }), epochs);
            // The TensorBoard events hold one scalar per epoch for each tag.
            var events = File.ReadAllBytes(Assert.Single(System.IO.Directory.GetFiles(Path.Combine(folder, "tensorboard"), "events.out.tfevents.*")));
            foreach (var tag in new[] { "loss/train", "loss/validation", "accuracy/train", "accuracy/validation" })
            {
                Assert.Equal(SmallRunFixture.Epochs, Occurrences(events, Encoding.UTF8.GetBytes(tag)));
            }
        }

        var best = run.Report.Strategies.MinBy(s => s.ValidationLoss)!;
        Assert.Equal(best.Strategy, run.Report.Winner);
    }

    private static int Occurrences(ReadOnlySpan<byte> haystack, ReadOnlySpan<byte> needle)
    {
        var count = 0;
        for (var at = haystack.IndexOf(needle); at >= 0; at = haystack.IndexOf(needle))
        {
            count++;
            haystack = haystack[(at + needle.Length)..];
        }

        return count;
    }

    [Fact]
    public void Features_SecondRunWithOtherTrainingOptions_ReadsCacheInsteadOfExtracting()
    {
        var first = run.Strategy(FeaturesStrategy.StrategyName);
        Assert.Contains(first.Notes, n => n.Contains("extracted and cached", StringComparison.Ordinal));
        // Epochs, learning rate, batch size and seed decide how the head trains, not what the backbone gives: they must hit.
        var settings = new TrainingSettings { BatchSize = 4, Epochs = 1, LearningRate = 0.05, Seed = 7, CacheDirectory = run.CacheDirectory };
        Assert.NotEqual((SmallRunFixture.BatchSize, SmallRunFixture.Epochs, new TrainingSettings().LearningRate), (settings.BatchSize, settings.Epochs!.Value, settings.LearningRate));
        var (report, _) = TrainingRun.Execute(run.Request(FeaturesStrategy.StrategyName, "runs-again") with { ReportPhotos = ReportPhotos.None }, settings, new QuietProgress());
        var again = Assert.Single(report.Strategies);
        Assert.Equal(2, again.Notes.Count(n => n.Contains("read from cache", StringComparison.Ordinal)));
        Assert.DoesNotContain(again.Notes, n => n.Contains("extracted", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Features_DamagedCacheFile_WarnsAndRebuildsItInsteadOfReadingIt(bool truncated)
    {
        // The shared run's cache copied, its validation file (16 photos: the cheap one to rebuild) damaged: cut short, or
        // a whole file holding one vector fewer than the split has photos.
        var data = TrainingRun.Load(run.Request(FeaturesStrategy.StrategyName, "unused"), new QuietProgress());
        var digest = FeatureCache.WeightsDigest(Backbones.WeightFiles(BackboneSpec.Default));
        string PathIn(string cache, ImageSet set) => FeatureCache.PathFor(cache, FeatureCache.Key(BackboneSpec.Default.Info, digest, set, data.Split.Classes));
        using var temp = new TempDirectory();
        var cache = Path.Combine(temp.Path, "cache");
        System.IO.Directory.CreateDirectory(cache);
        File.Copy(PathIn(run.CacheDirectory, data.Train), PathIn(cache, data.Train));
        var damaged = PathIn(cache, data.Validation);
        Assert.True(FeatureCache.TryLoad(PathIn(run.CacheDirectory, data.Validation), out var intact, out var intactLabels));
        float[] intactFloats;
        using (intact)
        {
            intactFloats = intact.data<float>().ToArray();
            if (truncated)
            {
                FeatureCache.Save(damaged, intact, intactLabels);
                using var file = File.OpenWrite(damaged);
                file.SetLength(file.Length / 2);
            }
            else
            {
                using var fewer = intact.narrow(0, 0, intactLabels.Length - 1).contiguous();
                FeatureCache.Save(damaged, fewer, intactLabels[..^1]);
            }
        }

        var log = new List<string>();
        var settings = new TrainingSettings { BatchSize = SmallRunFixture.BatchSize, Epochs = 1, CacheDirectory = cache };
        var (report, _) = TrainingRun.Execute(run.Request(FeaturesStrategy.StrategyName, truncated ? "runs-truncated-cache" : "runs-short-cache") with { ReportPhotos = ReportPhotos.None }, settings, new QuietProgress(log.Add));

        Assert.Single(log, line => line.StartsWith("warning:", StringComparison.Ordinal) && line.Contains(damaged, StringComparison.Ordinal));
        var notes = Assert.Single(report.Strategies).Notes;
        Assert.Contains(notes, n => n.StartsWith("validation features extracted and cached", StringComparison.Ordinal));
        Assert.Contains(notes, n => n.StartsWith("train features read from cache", StringComparison.Ordinal));
        // Rebuilt whole: the vectors the shared run extracted for those photos.
        Assert.True(FeatureCache.TryLoad(damaged, out var rebuilt, out var rebuiltLabels));
        using (rebuilt)
        {
            Assert.Equal(intactLabels, rebuiltLabels);
            var worst = intactFloats.Zip(rebuilt.data<float>().ToArray(), (a, b) => Math.Abs(a - b)).Max();
            Assert.True(worst <= 1e-4, $"rebuilt vectors differ from the shared run's by {worst:g3}");
        }
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
