using DogsVsCats.Vision.Trainer.Onnx;
using TorchSharp;
using static TorchSharp.torch;

namespace DogsVsCats.Vision.Tests.Export;

/// <summary>Each op the exporter writes, against TorchSharp's own result for the same module and input (eval mode).</summary>
[Trait("Category", "Fast")]
public sealed class OnnxOpTests
{
    public static TheoryData<string> Modules => [.. Cases.Keys];

    private static readonly Dictionary<string, (Func<nn.Module<Tensor, Tensor>> Make, long[] Shape)> Cases = new()
    {
        ["conv 3x3 stride 2 pad 1 bias"] = (() => nn.Conv2d(3, 8, 3, stride: 2, padding: 1, bias: true), [2, 3, 9, 11]),
        ["conv 1x1 stride 2 no bias"] = (() => nn.Conv2d(4, 6, 1, stride: 2, bias: false), [2, 4, 8, 8]),
        ["conv 7x7 stride 2"] = (() => nn.Conv2d(3, 4, 7, stride: 2, bias: false), [1, 3, 21, 21]),
        ["conv 1x7 pad 0,3 (Inception)"] = (() => nn.Conv2d(3, 4, (1, 7), padding: (0, 3), bias: false), [2, 3, 9, 11]),
        ["conv 7x1 pad 3,0 (Inception)"] = (() => nn.Conv2d(3, 4, (7, 1), padding: (3, 0), bias: false), [2, 3, 9, 11]),
        ["batch norm"] = (RandomBatchNorm, [3, 5, 4, 4]),
        ["relu"] = (() => nn.ReLU(), [2, 3, 4, 4]),
        ["max pool 3x3 stride 2 pad 1"] = (() => nn.MaxPool2d(3, stride: 2, padding: 1), [2, 3, 9, 9]),
        ["max pool 3x3 stride 2"] = (() => nn.MaxPool2d(3, stride: 2), [2, 3, 10, 10]),
        ["zero pad asymmetric"] = (() => nn.ZeroPad2d((3, 2, 1, 0)), [2, 3, 5, 6]),
        ["zero pad uniform"] = (() => nn.ZeroPad2d(1), [2, 3, 5, 6]),
        ["global average pool"] = (() => nn.AdaptiveAvgPool2d(1), [2, 6, 7, 7]),
        ["dropout is identity"] = (() => nn.Dropout(0.2), [2, 6, 3, 3]),
        ["linear"] = (() => nn.Linear(16, 3), [4, 16]),
        ["flatten"] = (() => nn.Flatten(), [2, 3, 2, 2]),
        ["sequential conv bn relu"] = (() => nn.Sequential(("c", nn.Conv2d(3, 4, 3, padding: 1)), ("b", RandomBatchNorm(4)), ("r", nn.ReLU())), [2, 3, 6, 6]),
    };

    [Theory]
    [MemberData(nameof(Modules))]
    public void Module_RandomInput_MatchesTorchSharp(string name)
    {
        manual_seed(7);
        var (make, shape) = Cases[name];
        using var module = make();
        module.eval();
        using var scope = NewDisposeScope();
        var input = randn(shape);
        using var noGrad = no_grad();
        var expected = module.call(input);

        var actual = OnnxTestSession.RunModule(module, input);

        OnnxTestSession.AssertClose(expected, actual, 1e-5);
    }

    [Fact]
    public void AveragePool_3x3Stride1Pad1_MatchesAvgPool2dCountingPadding()
    {
        manual_seed(5);
        using var scope = NewDisposeScope();
        var input = randn(2, 3, 7, 9);
        var graph = new OnnxGraphBuilder();
        graph.Input("x", Onnx.TensorProto.Types.DataType.Float, 2, 3, 7, 9);
        var output = graph.AveragePool("x", 3, 1, 1, countIncludePad: true);

        var actual = OnnxTestSession.Run(graph, output, input);

        // Corners average 4 real values over 9: padding counts, as in PyTorch's default.
        OnnxTestSession.AssertClose(nn.functional.avg_pool2d(input, 3, stride: 1, padding: 1), actual, 1e-6);
    }

    [Fact]
    public void ConcatMulAndGather_RandomInput_MatchTorchSharp()
    {
        manual_seed(4);
        using var scope = NewDisposeScope();
        var input = randn(2, 3, 4, 5);
        var scale = randn(1, 3, 1, 1);
        var graph = new OnnxGraphBuilder();
        graph.Input("x", Onnx.TensorProto.Types.DataType.Float, 2, 3, 4, 5);
        var flipped = graph.Gather(graph.Mul("x", graph.Initializer("scale", scale)), 1, [2, 1, 0]);
        var output = graph.Concat([flipped, "x"], 1);

        var actual = OnnxTestSession.Run(graph, output, input);

        OnnxTestSession.AssertClose(cat([(input * scale).flip(1), input], 1), actual, 1e-6);
    }

    [Fact]
    public void AddAndSoftmax_RandomInput_MatchTorchSharp()
    {
        manual_seed(3);
        using var scope = NewDisposeScope();
        var input = randn(4, 5);
        var bias = randn(4, 5);
        var graph = new OnnxGraphBuilder();
        graph.Input("x", Onnx.TensorProto.Types.DataType.Float, 4, 5);
        var output = graph.Softmax(graph.Add("x", graph.Initializer("bias", bias)), 1);

        var actual = OnnxTestSession.Run(graph, output, input);

        OnnxTestSession.AssertClose(nn.functional.softmax(input + bias, 1), actual, 1e-6);
    }

    [Fact]
    public void CastTransposeSub_Uint8Pixels_MatchTorchSharpPreprocessing()
    {
        // The model's own front: uint8 NHWC pixels -> float -> NCHW -> minus a per-pixel mean image.
        manual_seed(5);
        using var scope = NewDisposeScope();
        var pixels = randint(0, 256, [2, 4, 5, 3], dtype: ScalarType.Byte);
        var mean = rand(1, 3, 4, 5) * 255;
        var graph = new OnnxGraphBuilder();
        graph.Input("x", Onnx.TensorProto.Types.DataType.Uint8, 2, 4, 5, 3);
        var floats = graph.Transpose(graph.Cast("x", Onnx.TensorProto.Types.DataType.Float), 0, 3, 1, 2);
        var output = graph.Sub(floats, graph.Initializer("mean", mean));

        var actual = OnnxTestSession.RunBytes(graph, output, pixels);

        OnnxTestSession.AssertClose(pixels.permute(0, 3, 1, 2).to_type(ScalarType.Float32) - mean, actual, 1e-4);
    }

    [Fact]
    public void Module_Unsupported_NamesTheModule()
    {
        using var gelu = nn.GELU();
        var graph = new OnnxGraphBuilder();

        var error = Assert.Throws<NotSupportedException>(() => graph.Module(gelu, "x"));

        Assert.Contains("GELU", error.Message, StringComparison.Ordinal);
    }

    private static nn.Module<Tensor, Tensor> RandomBatchNorm() => RandomBatchNorm(5);

    private static nn.Module<Tensor, Tensor> RandomBatchNorm(int channels)
    {
        var bn = nn.BatchNorm2d(channels);
        using var noGrad = no_grad();
        bn.weight!.copy_(rand(channels) + 0.5);
        bn.bias!.copy_(randn(channels));
        bn.running_mean!.copy_(randn(channels));
        bn.running_var!.copy_(rand(channels) + 0.5);
        return bn;
    }
}
