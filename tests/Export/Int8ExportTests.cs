using DogsVsCats.Vision.Shared;
using DogsVsCats.Vision.Tests.Cli;
using DogsVsCats.Vision.Tests.Fixtures;
using DogsVsCats.Vision.Trainer.Cli;
using DogsVsCats.Vision.Trainer.Data;
using DogsVsCats.Vision.Trainer.Export;
using DogsVsCats.Vision.Trainer.Run;
using DogsVsCats.Vision.Trainer.Training;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Onnx;

namespace DogsVsCats.Vision.Tests.Export;

/// <summary>The int8 (QDQ) model quantized from the small training run's model.onnx, against that float model.</summary>
[Collection(SmallRunGroup.Name)]
[Trait("Category", "Slow")]
public sealed class Int8ExportTests(SmallRunFixture run) : IDisposable
{
    private const int Photos = 16;

    private readonly string folder = TestData.NewTempDirectory();

    private string FloatModel => Path.Combine(run.RunDirectory, TrainingRun.ModelFile);

    private string Int8Model => run.Int8Model;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    [Fact]
    public void Int8_RealPhotos_ProbabilitiesAndLabelsFollowTheFloatModel()
    {
        var images = RealPhotos();
        var expected = Probabilities(FloatModel, images);   // [16, C]
        var actual = Probabilities(Int8Model, images);

        var worst = expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max();
        Assert.True(worst <= 0.05, $"int8 and float probabilities differ by {worst:F3} > 0.05");
        var classes = expected.Length / Photos;
        var disagree = Enumerable.Range(0, Photos).Count(n => ClassProbabilities.TopIndex(expected.AsSpan(n * classes, classes)) != ClassProbabilities.TopIndex(actual.AsSpan(n * classes, classes)));
        Assert.True(disagree <= 1, $"int8 and float labels disagree on {disagree} of {Photos} photos");
    }

    [Fact]
    public void Int8_OptimizedByOnnxRuntime_EveryBackboneConvolutionRunsAsQLinearConv()
    {
        using var floatStream = File.OpenRead(FloatModel);
        var floatConvs = ModelProto.Parser.ParseFrom(floatStream).Graph.Node.Count(n => n.OpType == "Conv");
        var optimized = Path.Combine(folder, "optimized.onnx");
        using (var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, OptimizedModelFilePath = optimized })
        using (new InferenceSession(Int8Model, options))
        {
        }

        using var stream = File.OpenRead(optimized);
        var ops = ModelProto.Parser.ParseFrom(stream).Graph.Node.Select(n => n.OpType).ToList();
        // All but one convolution (the CAM's 1x1 over the float features) run on int8 kernels, and so do the residual adds.
        Assert.Equal(floatConvs - 1, ops.Count(o => o == "QLinearConv"));
        Assert.True(ops.Count(o => o == "QLinearAdd") >= 8, $"{ops.Count(o => o == "QLinearAdd")} QLinearAdd");
        Assert.DoesNotContain("BatchNormalization", ops);
    }

    [Fact]
    public void Int8_Metadata_RecordsQuantizationAndKeepsTheContract()
    {
        using var floatSession = new InferenceSession(FloatModel);
        using var session = new InferenceSession(Int8Model);
        var original = ModelDescription.FromProperties(floatSession.ModelMetadata.CustomMetadataMap, FloatModel);
        var metadata = ModelDescription.FromProperties(session.ModelMetadata.CustomMetadataMap, Int8Model);

        Assert.Null(original.Quantization);
        Assert.Equal("float32", original.Precision);
        Assert.StartsWith(Int8Quantizer.Scheme, metadata.Quantization, StringComparison.Ordinal);
        Assert.Equal("int8", metadata.Precision);
        Assert.Equal(SmallRunFixture.Int8CalibrationPhotos, metadata.CalibrationImages);
        // Every float key is kept as it was; the two quantization keys are added.
        var expected = new Dictionary<string, string>(original.ToProperties())
        {
            [ModelContract.Keys.Quantization] = metadata.Quantization!,
            [ModelContract.Keys.CalibrationImages] = SmallRunFixture.Int8CalibrationPhotos.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        Assert.Equal(expected.OrderBy(p => p.Key, StringComparer.Ordinal), metadata.ToProperties().OrderBy(p => p.Key, StringComparer.Ordinal));
        Assert.Equal(typeof(byte), session.InputMetadata[ModelContract.InputName].ElementType);
        Assert.Equal(floatSession.OutputMetadata[ModelContract.CamName].Dimensions, session.OutputMetadata[ModelContract.CamName].Dimensions);
    }

    [Fact]
    public void Int8_OnnxChecker_AcceptsTheFile() => OnnxChecker.AssertAccepts(Int8Model, "the int8 model");

    [Fact]
    public void ExportQuantize_CalibrationFolderWithoutReadablePhoto_ExitsWithClearError()
    {
        var photos = Directory.CreateDirectory(Path.Combine(folder, "photos")).FullName;
        File.WriteAllText(Path.Combine(photos, "cat.1.jpg"), "not a jpeg");
        File.WriteAllText(Path.Combine(photos, "notes.txt"), "no photo either");
        var output = Path.Combine(folder, "model.onnx");

        var (code, _, error) = TrainerCliTests.Trainer(
            "export", "--checkpoint", run.Strategy(run.Report.Winner).CheckpointPath, "--out", output, "--quantize", "int8", "--calibration", photos);

        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains("No readable photo", error, StringComparison.Ordinal);
        Assert.Contains(photos, error, StringComparison.Ordinal);
        Assert.False(File.Exists(Int8Quantizer.Int8Path(output)));
    }

    private static DecodedImages RealPhotos()
    {
        var files = TestData.RealPhotos("cat", Photos / 2).Select(p => new LabeledFile(p, 0))
            .Concat(TestData.RealPhotos("dog", Photos / 2).Select(p => new LabeledFile(p, 1))).ToList();
        var skipped = new List<SkippedFile>();
        var set = ImageLoader.Load(files, 224, 224, skipped);
        Assert.Empty(skipped);
        return set;
    }

    private static float[] Probabilities(string model, DecodedImages images)
    {
        var plane = 224 * 224 * 3;
        var pixels = new byte[images.Count * plane];
        for (var i = 0; i < images.Count; i++)
        {
            images.Pixels[i].CopyTo(pixels, i * plane);
        }

        using var session = new InferenceSession(model);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor(ModelContract.InputName, new DenseTensor<byte>(pixels.AsMemory(), new[] { images.Count, 224, 224, 3 }))]);
        return [.. results.Single(r => r.Name == ModelContract.ProbabilitiesName).AsEnumerable<float>()];
    }
}
