using DogsVsCats.Vision.Benchmarks;
using DogsVsCats.Vision.Trainer.Onnx;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Onnx;
using static TorchSharp.torch;

namespace DogsVsCats.Vision.Tests.Benchmarks;

/// <summary>
/// <c>bench backbones --profile</c> reads ONNX Runtime's own trace: a plain and a grouped convolution of known size must
/// count exactly their floating-point operations, and the time shares must name what ran.
/// </summary>
[Trait("Category", "Fast")]
public sealed class OnnxProfileTests
{
    [Fact]
    public void Read_TwoConvolutions_CountsTheirOperationsAndShares()
    {
        var graph = new OnnxGraphBuilder();
        graph.Input("x", TensorProto.Types.DataType.Float, 2, 8, 10, 10);
        using var plainWeight = randn(4, 8, 3, 3);
        using var groupedWeight = randn(6, 2, 3, 3);   // 4 input channels in 2 groups of 2
        var plain = graph.Node("Conv", ["x", graph.Initializer("w", plainWeight)], "conv", OnnxGraphBuilder.IntsAttribute("pads", 1, 1, 1, 1));
        var grouped = graph.Node(
            "Conv", [graph.Node("Relu", [plain], "relu"), graph.Initializer("g", groupedWeight)], "grouped",
            OnnxGraphBuilder.IntsAttribute("strides", 2, 2), OnnxGraphBuilder.IntAttribute("group", 2));
        graph.Output(grouped, "y", TensorProto.Types.DataType.Float, 2, 6, 4, 4);
        var model = graph.ToModel();
        var prefix = Path.Combine(Path.GetTempPath(), $"dogsvscats-profile-test-{Guid.NewGuid():N}");
        using var options = new SessionOptions { EnableProfiling = true, ProfileOutputPathPrefix = prefix, GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL };
        using var session = new InferenceSession(model.ToByteArray(), options);
        var pixels = new float[2 * 8 * 10 * 10];
        using var input = OrtValue.CreateTensorValueFromMemory(pixels, [2, 8, 10, 10]);
        using var runOptions = new RunOptions();
        for (var run = 0; run < 3; run++)
        {
            using var outputs = session.Run(runOptions, ["x"], [input], ["y"]);
        }

        var trace = session.EndProfiling();
        try
        {
            var profile = OnnxProfile.Read(trace);

            // 2 x outputs x (input channels per group x kernel area): [2, 4, 10, 10] x 8 x 9, [2, 6, 4, 4] x 2 x 9.
            var expected = (2.0 * 800 * 72) + (2.0 * 192 * 18);
            Assert.Equal(expected / 1e9, profile.ConvolutionGflop, 12);
            Assert.Contains(profile.Shares, s => s.Operator == "Conv");
            Assert.Contains(profile.Shares, s => s.Operator == "Relu");
            Assert.Equal(1.0, profile.Shares.Sum(s => s.Share), 6);
            Assert.True(profile.SlowestConvolution <= profile.ConvolutionGflopPerSecond && profile.ConvolutionGflopPerSecond <= profile.FastestConvolution);
        }
        finally
        {
            File.Delete(trace);
        }
    }

    [Fact]
    public void Read_TraceWithoutNodes_SaysWhatIsMissing()
    {
        var path = Path.Combine(Path.GetTempPath(), $"dogsvscats-profile-test-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, """[{"cat": "Session", "name": "model_loading_array", "dur": 10}]""");
        try
        {
            var error = Assert.Throws<InvalidDataException>(() => OnnxProfile.Read(path));
            Assert.Contains("no node timings", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
