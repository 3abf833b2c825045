using System.Globalization;
using System.Text.Json;
using DogsVsCats.Vision.Realtime.Inference;
using DogsVsCats.Vision.Shared;
using DogsVsCats.Vision.Tests.Fixtures;
using DogsVsCats.Vision.Trainer.Reporting;
using DogsVsCats.Vision.Trainer.Run;
using DogsVsCats.Vision.Trainer.Training;
using Google.Protobuf;
using Microsoft.Extensions.Logging.Abstractions;
using Onnx;
using OpenCvSharp;

namespace DogsVsCats.Vision.Tests.Reporting;

/// <summary>The evaluation of the shipped model.onnx that the small training run wrote after exporting it.</summary>
[Trait("Category", "Slow")]
[Collection(SmallRunGroup.Name)]
public sealed class ModelEvaluationTests(SmallRunFixture run)
{
    [Theory]
    [InlineData("mistakes.csv", true)]
    [InlineData("train_high_loss.csv", false)]
    public void LossCsv_SmallRun_HighestLossFirstAndLossIsTheModelsOwn(string file, bool validation)
    {
        var lines = File.ReadAllLines(Path.Combine(run.RunDirectory, file));
        var rows = lines.Skip(1).Select(l => l.Split(',')).ToList();

        Assert.Equal(LossGallery.CsvHeader, lines[0]);
        // Every photo of the split is listed: there are fewer than the cap.
        Assert.Equal(validation ? run.Report.Dataset.ValidationImages : run.Report.Dataset.TrainImages, rows.Count);
        var losses = rows.Select(r => double.Parse(r[4], CultureInfo.InvariantCulture)).ToList();
        Assert.True(losses.Zip(losses.Skip(1)).All(pair => pair.First >= pair.Second), "losses are not highest first: " + string.Join(", ", losses));

        // The first row, recomputed by the realtime app's classifier on the same file.
        var first = rows[0];
        using var classifier = new Classifier(Path.Combine(run.RunDirectory, TrainingRun.ModelFile), InferenceDevice.Cpu, 0, NullLogger.Instance);
        Assert.True(ImageFile.TryRead(first[0], out var bgr, out var error), error);
        using (bgr)
        {
            var prediction = classifier.Classify([bgr])[0];
            var truth = classifier.Labels.ToList().IndexOf(first[1]);
            Assert.Equal(classifier.Labels[prediction.TopIndex], first[2]);
            Assert.Equal(prediction.Confidence, double.Parse(first[3], CultureInfo.InvariantCulture), 5);
            Assert.Equal(-Math.Log(prediction.Probabilities[truth]), losses[0], 4);
        }
    }

    [Theory]
    [InlineData("mistakes")]
    [InlineData("train_high_loss")]
    public void Gallery_SmallRun_FirstTileIsTheHighestLossPhotoAsTheModelSawIt(string name)
    {
        var first = File.ReadLines(Path.Combine(run.RunDirectory, name + ".csv")).Skip(1).First().Split(',');
        using var gallery = Cv2.ImRead(Path.Combine(run.RunDirectory, name + ".png"), ImreadModes.Color);
        Assert.True(ImageFile.TryRead(first[0], out var bgr, out var error), error);
        using (bgr)
        {
            using var model = new ModelScorer(Path.Combine(run.RunDirectory, TrainingRun.ModelFile), batchSize: 1);
            var (w, h) = (model.Description.InputWidth, model.Description.InputHeight);
            using var expected = ImagePreprocessing.Resize(bgr, w, h);
            var (x, y) = LossGallery.TileOrigin(0, w, h);
            using var tile = new Mat(gallery, new Rect(x, y, w, h));
            using var overlay = new Mat(gallery, new Rect(x + w + LossGallery.Gap, y, w, h));

            // PNG is lossless: the tile is the photo's model input, pixel for pixel; the overlay beside it is not.
            Assert.Equal(0, Cv2.Norm(tile, expected, NormTypes.INF));
            Assert.True(Cv2.Norm(overlay, expected, NormTypes.L1) / (w * h * 3) > 10, "the CAM overlay looks like the plain photo");
        }
    }

    [Theory]
    [InlineData("mistakes.png")]
    [InlineData("train_high_loss.png")]
    [InlineData("reliability.png")]
    public void Images_SmallRun_DecodeWithContent(string file)
    {
        using var image = Cv2.ImRead(Path.Combine(run.RunDirectory, file), ImreadModes.Color);

        Assert.False(image.Empty());
        Assert.InRange(image.Width, 800, 2400);
        Assert.InRange(image.Height, 400, 2400);
        Cv2.MeanStdDev(image, out _, out var stdDev);
        Assert.True(stdDev.Val0 > 10, $"std-dev {stdDev.Val0}: the image looks blank");
    }

    [Fact]
    public void Report_SmallRun_NllOfTheFileIsTheWinnersValidationLossAndSectionsAreWritten()
    {
        var report = JsonSerializer.Deserialize<RunReport>(File.ReadAllText(Path.Combine(run.RunDirectory, ReportWriter.JsonFile)), ReportWriter.JsonOptions)!;
        var evaluation = report.Evaluation;
        var winner = run.Strategy(run.Report.Winner);

        Assert.NotNull(evaluation);
        // ONNX Runtime on the exported file against TorchSharp on the trained model: the same photos, the same loss.
        Assert.Equal(winner.ValidationLoss, evaluation.Calibrated.LogLoss, 3);
        Assert.Equal(winner.ValidationAccuracy, evaluation.Calibrated.Accuracy, 6);
        Assert.Null(evaluation.Untempered);
        Assert.Equal(evaluation.Calibrated.Images, evaluation.Calibrated.Bins.Sum(b => b.Count));
        Assert.Equal(Math.Min(LossGallery.GalleryPhotos, report.Dataset.ValidationImages), evaluation.ValidationMistakes.Top.Count);
        var md = File.ReadAllText(Path.Combine(run.RunDirectory, ReportWriter.MarkdownFile));
        Assert.Contains("## Calibration", md, StringComparison.Ordinal);
        Assert.Contains("(reliability.png)", md, StringComparison.Ordinal);
        Assert.Contains("(mistakes.png)", md, StringComparison.Ordinal);
        Assert.Contains("(train_high_loss.csv)", md, StringComparison.Ordinal);
        Assert.Contains("possible label errors", md, StringComparison.Ordinal);
        Assert.Contains(run.Log, line => line.StartsWith("Scored", StringComparison.Ordinal) && line.Contains("training photos in", StringComparison.Ordinal));
    }

    [Fact]
    public void Evaluate_FileWithTemperature_ReportsTheModelBeforeAndAfterIt()
    {
        // The small run's file, said to divide its logits by 2: its probabilities p are then softmax(z / 2), and the model
        // before the temperature is softmax(2 log p), sharper, with the same top class.
        var directory = Path.Combine(run.Directory, "tempered-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(Path.Combine(run.RunDirectory, TrainingRun.ModelFile)));
        model.MetadataProps.Add(new StringStringEntryProto { Key = ModelContract.Keys.Temperature, Value = "2" });
        var path = Path.Combine(directory, TrainingRun.ModelFile);
        File.WriteAllBytes(path, model.ToByteArray());
        var data = TrainingRun.Load(run.Request("features", "tempered"), new QuietProgress());

        var evaluation = ModelEvaluator.Evaluate(path, data.Validation, data.Train, directory, _ => { });

        Assert.Equal(2, evaluation.Temperature);
        var before = Assert.IsType<CalibrationFigures>(evaluation.Untempered);
        Assert.Equal(evaluation.Calibrated.Accuracy, before.Accuracy);
        static double MeanConfidence(CalibrationFigures f) => f.Bins.Sum(b => b.Count * b.MeanConfidence) / f.Images;
        Assert.True(MeanConfidence(before) > MeanConfidence(evaluation.Calibrated), $"{MeanConfidence(before)} <= {MeanConfidence(evaluation.Calibrated)}");
        Assert.True(File.Exists(Path.Combine(directory, ModelEvaluator.ReliabilityFile)));
        ReportWriter.Write(directory, run.Report with { Evaluation = evaluation });
        var md = File.ReadAllText(Path.Combine(directory, ReportWriter.MarkdownFile));
        Assert.Contains("| Measure | Before temperature | After (the file) |", md, StringComparison.Ordinal);
        Assert.Contains("divided by the temperature 2 ", md, StringComparison.Ordinal);
    }

    [Fact]
    public void Evaluate_ValidationOnly_WritesNoTrainingListAndSaysSo()
    {
        var directory = Path.Combine(run.Directory, "validation-only-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        var data = TrainingRun.Load(run.Request("features", "validation-only"), new QuietProgress());
        var log = new List<string>();

        var evaluation = ModelEvaluator.Evaluate(Path.Combine(run.RunDirectory, TrainingRun.ModelFile), data.Validation, train: null, directory, log.Add);

        Assert.Null(evaluation.TrainHighLoss);
        Assert.Equal(data.Validation.Count, evaluation.ValidationMistakes.Photos);
        Assert.True(File.Exists(Path.Combine(directory, ModelEvaluator.MistakesName + ".csv")));
        Assert.False(File.Exists(Path.Combine(directory, ModelEvaluator.TrainHighLossName + ".csv")));
        Assert.DoesNotContain(log, line => line.Contains("training photos in", StringComparison.Ordinal));
        ReportWriter.Write(directory, run.Report with { Evaluation = evaluation });
        Assert.Contains("Training photos were not scored (`--report-photos validation`)", File.ReadAllText(Path.Combine(directory, ReportWriter.MarkdownFile)), StringComparison.Ordinal);
    }

    [Fact]
    public void Score_UnreadablePhotosAmongReadableAcrossBatches_KeepsInputOrderAndEachPhotosOwnOutputs()
    {
        using var temp = new TempDirectory();
        var cats = TestData.RealPhotos("cat", 3);
        var dogs = TestData.RealPhotos("dog", 3);
        var truncated = Path.Combine(temp.Path, "truncated.jpg");
        var bytes = File.ReadAllBytes(cats[0]);
        File.WriteAllBytes(truncated, bytes[..(bytes.Length / 2)]);
        var missing = Path.Combine(temp.Path, "missing.jpg");
        // Batches of 3: [cat, truncated, cat] [dog, missing, cat] [dog, dog + a padded slot], decoded by 2 threads.
        string[] paths = [cats[0], truncated, cats[1], dogs[0], missing, cats[2], dogs[1], dogs[2]];
        int[] labels = [0, 0, 0, 1, 1, 0, 1, 1];
        var modelPath = Path.Combine(run.RunDirectory, TrainingRun.ModelFile);
        using var model = new ModelScorer(modelPath, batchSize: 3, decodeThreads: 2);

        var set = model.Score(paths, labels);

        Assert.Equal(2, model.DecodeThreads);
        Assert.Equal([truncated, missing], set.Unreadable);
        var readable = Enumerable.Range(0, paths.Length).Where(i => paths[i] != truncated && paths[i] != missing).ToList();
        Assert.Equal(readable.Select(i => paths[i]), set.Photos.Select(p => p.Path));
        Assert.Equal(readable.Select(i => labels[i]), set.Photos.Select(p => p.Truth));
        // Each photo's probabilities and map are its own: those it gets when scored alone.
        using var single = new ModelScorer(modelPath, batchSize: 1, decodeThreads: 1);
        foreach (var photo in set.Photos)
        {
            var alone = Assert.Single(single.Score([photo.Path], [photo.Truth]).Photos);
            Assert.Equal(alone.Probabilities.Length, photo.Probabilities.Length);
            Assert.All(alone.Probabilities.Zip(photo.Probabilities), pair => Assert.Equal(pair.First, pair.Second, 4));
            var scale = alone.Cam.Max(Math.Abs);
            Assert.True(alone.Cam.Zip(photo.Cam).Max(pair => Math.Abs(pair.First - pair.Second)) <= 1e-3 * scale, $"{photo.Path}: its map is not the one it gets alone");
        }
    }
}
