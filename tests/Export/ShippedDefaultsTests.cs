using DogsVsCats.Vision.Shared;
using DogsVsCats.Vision.Tests.Fixtures;
using DogsVsCats.Vision.Trainer.Data;
using DogsVsCats.Vision.Trainer.Export;
using DogsVsCats.Vision.Trainer.Models;
using DogsVsCats.Vision.Trainer.Selection;
using DogsVsCats.Vision.Trainer.Strategies;
using DogsVsCats.Vision.Trainer.Training;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using static TorchSharp.torch;

namespace DogsVsCats.Vision.Tests.Export;

/// <summary>
/// What a user gets from <c>trainer train</c> without options: model.onnx holds the model the report names as exported,
/// with flip test-time augmentation at the default image size; and a run forced to export the ensemble writes the mean
/// of its members' probabilities.
/// </summary>
[Trait("Category", "Slow")]
public sealed class ShippedDefaultsTests(ShippedDefaultsFixture runs) : IClassFixture<ShippedDefaultsFixture>
{
    private const int Photos = 8;
    private const double Tolerance = 1e-4;

    private static string BackboneName => BackboneSpec.Default.Name;

    private static int ImageSize => Backbones.DefaultImageSize(BackboneName);

    [Fact]
    public void Train_DefaultOptions_ModelSaysFlipAndTheDefaultImageSize()
    {
        // The default differs from the network's own size, so a run that dropped it would fail here.
        Assert.NotEqual(Backbones.Describe(BackboneName).InputWidth, ImageSize);
        var run = runs.Defaults;
        using var session = new InferenceSession(run.ModelPath);
        var metadata = ModelDescription.FromProperties(session.ModelMetadata.CustomMetadataMap, run.ModelPath);

        Assert.Equal(ModelContract.TtaModes.Flip, metadata.Tta);
        Assert.Equal((ImageSize, ImageSize), (metadata.InputWidth, metadata.InputHeight));
        Assert.Equal([-1, ImageSize, ImageSize, 3], session.InputMetadata[ModelContract.InputName].Dimensions);
        Assert.Contains($"input {ImageSize}x{ImageSize}", run.Output, StringComparison.Ordinal);
        var selection = run.Report.Selection!;
        Assert.Equal(ExportChoice.Default.ToString(), selection.Export);
        Assert.Equal(TestTimeAugmentation.Flip, selection.Tta);
        Assert.True(selection.FlipMeasured);
        Assert.Equal(StrategyRegistry.Plan(StrategyRegistry.All).Select(s => s.Name), run.Report.Strategies.Select(s => s.Strategy));
    }

    [Fact]
    public void Train_DefaultOptions_ModelOnnxHoldsWhatTheReportNamesExported() => AssertHoldsTheReportsExport(runs.Defaults);

    [Fact]
    public void Train_ExportEnsemble_ModelOnnxMatchesTorchSharpsAveragedProbabilities()
    {
        var selection = runs.Ensemble.Report.Selection!;
        Assert.Equal(ExportSelection.Ensemble, selection.Exported);
        Assert.Equal(StrategyRegistry.Plan(FinetuneStrategy.StrategyName).Select(s => s.Name), selection.Members);
        Assert.True(selection.Members.Count > 1);

        var (expected, members) = AssertHoldsTheReportsExport(runs.Ensemble);

        // The members disagree beyond the tolerance, so a file holding any one of them (or a different mix) fails above.
        Assert.All(members, member => Assert.True(
            member.Zip(expected, (m, e) => Math.Abs(m - e)).Max() > 10 * Tolerance,
            "a member alone gives the ensemble's probabilities: the comparison would prove nothing"));
    }

    /// <summary>
    /// The report's exported model (its members, test-time augmentation and temperature) rebuilt in TorchSharp from the
    /// members' checkpoints, against model.onnx on real photos; returns the expected probabilities and each member's own.
    /// </summary>
    private static (float[] Expected, IReadOnlyList<float[]> Members) AssertHoldsTheReportsExport(TrainerRun run)
    {
        var selection = run.Report.Selection!;
        using var session = new InferenceSession(run.ModelPath);
        var metadata = ModelDescription.FromProperties(session.ModelMetadata.CustomMetadataMap, run.ModelPath);
        Assert.Equal(selection.Exported, metadata.Strategy);
        Assert.Equal(selection.Members.Count > 1 ? selection.Members : [], metadata.Members);
        Assert.Equal(selection.Tta.Name(), metadata.Tta);
        Assert.Equal(selection.Temperature.Applied, metadata.Temperature, 12);
        Assert.Equal(selection.Temperature.AppliedLoss, metadata.ValidationLoss, 9);

        var images = RealPhotos();
        var classes = run.Report.Dataset.Classes.Count;
        var members = selection.Members
            .Select(name => MemberProbabilities(run.Report.Strategies.Single(s => s.Strategy == name).CheckpointPath, classes, images, selection.Temperature.Applied, selection.Tta))
            .ToList();
        var expected = Enumerable.Range(0, members[0].Length).Select(i => members.Average(m => m[i])).Select(p => (float)p).ToArray();   // [N, C]

        var actual = Run(session, images);
        Assert.Equal(expected.Length, actual.Length);
        var worst = expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max();
        Assert.True(worst <= Tolerance, $"model.onnx ({selection.Exported}, tta {selection.Tta.Name()}) and TorchSharp differ by {worst:g3} > {Tolerance}");
        return (expected, members);
    }

    /// <summary>One checkpoint's mean over the photo (and its mirror under flip) of softmax(logits / temperature), [N, C].</summary>
    private static float[] MemberProbabilities(string checkpoint, int classes, DecodedImages images, double temperature, TestTimeAugmentation tta)
    {
        // The architecture alone: the checkpoint holds every weight and statistic, so the pretrained ones need not load first.
#pragma warning disable CA2000 // the TransferModel registers backbone and head and disposes them with itself
        using var model = new TransferModel(Backbones.Find(BackboneName).Architecture(ImageSize), new ClassifierHead(512, classes));
#pragma warning restore CA2000
        model.load(checkpoint);
        model.eval();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var input = Batches.Images(images, [.. Enumerable.Range(0, images.Count)], CPU);   // [N, 3, H, W]
        var probabilities = nn.functional.softmax(model.call(input) / temperature, 1);
        if (tta == TestTimeAugmentation.Flip)
        {
            probabilities = (probabilities + nn.functional.softmax(model.call(input.flip(3)) / temperature, 1)) / 2;
        }

        return probabilities.data<float>().ToArray();
    }

    private static DecodedImages RealPhotos()
    {
        var files = TestData.RealPhotos("cat", Photos / 2).Select(p => new LabeledFile(p, 0))
            .Concat(TestData.RealPhotos("dog", Photos / 2).Select(p => new LabeledFile(p, 1))).ToList();
        var skipped = new List<SkippedFile>();
        var set = ImageLoader.Load(files, ImageSize, ImageSize, skipped);
        Assert.Empty(skipped);
        return set;
    }

    private static float[] Run(InferenceSession session, DecodedImages images)
    {
        var plane = images.Width * images.Height * 3;
        var pixels = new byte[images.Count * plane];
        for (var i = 0; i < images.Count; i++)
        {
            images.Pixels[i].CopyTo(pixels, i * plane);
        }

        var input = new DenseTensor<byte>(pixels.AsMemory(), [images.Count, images.Height, images.Width, 3]);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor(ModelContract.InputName, input)]);
        return [.. results.Single(r => r.Name == ModelContract.ProbabilitiesName).AsEnumerable<float>()];
    }
}
