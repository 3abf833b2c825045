using DogsVsCats.Vision.Trainer.Onnx;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Onnx;
using TorchSharp;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace DogsVsCats.Vision.Tests.Export;

/// <summary>Exports one module (or a few builder calls) as a one-input, one-output graph and runs it in ONNX Runtime (CPU).</summary>
internal static class OnnxTestSession
{
    public static float[] RunModule(nn.Module module, Tensor input)
    {
        var graph = new OnnxGraphBuilder();
        graph.Input("x", TensorProto.Types.DataType.Float, [.. input.shape.Cast<object>()]);
        var output = graph.Module(module, "x");
        return Run(graph, output, input);
    }

    /// <summary>Runs the graph on a float input.</summary>
    public static float[] Run(OnnxGraphBuilder graph, string output, Tensor input) =>
        Run(graph, output, new DenseTensor<float>(Host(input).data<float>().ToArray().AsMemory(), Dimensions(input)));

    /// <summary>Runs the graph on a uint8 input.</summary>
    public static float[] RunBytes(OnnxGraphBuilder graph, string output, Tensor input) =>
        Run(graph, output, new DenseTensor<byte>(Host(input).data<byte>().ToArray().AsMemory(), Dimensions(input)));

    public static void AssertClose(Tensor expected, float[] actual, double tolerance)
    {
        var want = Host(expected).data<float>().ToArray();
        Assert.Equal(want.Length, actual.Length);
        var worst = want.Zip(actual, (w, a) => Math.Abs(w - a)).DefaultIfEmpty(0).Max();
        Assert.True(worst <= tolerance, $"max abs difference {worst:g4} > {tolerance:g4}");
    }

    private static float[] Run<T>(OnnxGraphBuilder graph, string output, DenseTensor<T> input)
    {
        graph.Output(output, "y", TensorProto.Types.DataType.Float);
        var model = graph.ToModel();
        using var session = new InferenceSession(model.ToByteArray());
        using var results = session.Run([NamedOnnxValue.CreateFromTensor("x", input)]);
        return [.. results[0].AsEnumerable<float>()];
    }

    private static Tensor Host(Tensor tensor) => tensor.detach().cpu().contiguous();

    private static int[] Dimensions(Tensor tensor) => [.. tensor.shape.Select(d => (int)d)];
}
