using DogsVsCats.Vision.Trainer.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DogsVsCats.Vision.Trainer.Models;

/// <summary>
/// torchvision's <c>inception_v3</c> up to <c>Mixed_7c</c> (Keras' <c>mixed10</c>), 299 px, inputs scaled to
/// [-1, 1] as its published weights expect (torchvision's <c>transform_input=True</c> does the same to
/// ImageNet-normalised input). The auxiliary classifier is not built: it only serves ImageNet training.
/// </summary>
internal sealed class TorchvisionInceptionV3 : TorchvisionBackbone
{
    public const string BackboneName = "inception_v3";
    public const int Size = 299;

    private static readonly string[] MixedBlocks = ["Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e", "Mixed_7a", "Mixed_7b", "Mixed_7c"];

    // A list, not module fields: TorchSharp registers a module's fields under their C# names, and these modules are
    // registered once, under torchvision's names (Add).
    private readonly List<nn.Module<Tensor, Tensor>> layers = [];

    public TorchvisionInceptionV3(int inputSize = Size) : base(nameof(TorchvisionInceptionV3), inputSize, [0.5, 0.5, 0.5], [0.5, 0.5, 0.5])
    {
        Add("Conv2d_1a_3x3", Conv(3, 32, 3, stride: 2));
        Add("Conv2d_2a_3x3", Conv(32, 32, 3));
        Add("Conv2d_2b_3x3", Conv(32, 64, 3, padding: 1));
        Add("maxpool1", nn.MaxPool2d(3, stride: 2));
        Add("Conv2d_3b_1x1", Conv(64, 80, 1));
        Add("Conv2d_4a_3x3", Conv(80, 192, 3));
        Add("maxpool2", nn.MaxPool2d(3, stride: 2));
        Add("Mixed_5b", InceptionA(192, 32));
        Add("Mixed_5c", InceptionA(256, 64));
        Add("Mixed_5d", InceptionA(288, 64));
        Add("Mixed_6a", InceptionB(288));
        Add("Mixed_6b", InceptionC(768, 128));
        Add("Mixed_6c", InceptionC(768, 160));
        Add("Mixed_6d", InceptionC(768, 160));
        Add("Mixed_6e", InceptionC(768, 192));
        Add("Mixed_7a", InceptionD(768));
        Add("Mixed_7b", InceptionE(1280));
        Add("Mixed_7c", InceptionE(2048));
    }

    public static BackboneInfo Description { get; } = new(
        BackboneName, Size, Size, 2048,
        "BGR -> RGB, /127.5 - 1 (Inception's [-1, 1] scaling)",
        MixedBlocks,
        MinimumInputSize: 75);

    /// <summary>The Mixed_* blocks (the layers before them are single convolutions and pools).</summary>
    public override IReadOnlyList<nn.Module<Tensor, Tensor>> Blocks => layers[^MixedBlocks.Length..];   // Mixed_7c -> [N, 2048, 8, 8] at 299 px

    public override string Architecture => BackboneName;

    protected override BackboneInfo Native => Description;

    protected override IReadOnlyList<nn.Module<Tensor, Tensor>> FirstLayers => layers[..^MixedBlocks.Length];

    private void Add(string name, nn.Module<Tensor, Tensor> layer)
    {
        register_module(name, layer);
        layers.Add(layer);
    }

    private static BasicConv2d Conv(int input, int output, int kernel, int stride = 1, int padding = 0) =>
        new(input, output, (kernel, kernel), (stride, stride), (padding, padding));

    private static BasicConv2d Conv(int input, int output, (long, long) kernel, (long, long) padding) =>
        new(input, output, kernel, (1, 1), padding);

#pragma warning disable CA2000 // each layer is registered in its branch, which owns and disposes it
    private static InceptionBlock InceptionA(int c, int poolFeatures) => new(
        new Branch([("branch1x1", Conv(c, 64, 1))]),
        new Branch([("branch5x5_1", Conv(c, 48, 1)), ("branch5x5_2", Conv(48, 64, 5, padding: 2))]),
        new Branch([("branch3x3dbl_1", Conv(c, 64, 1)), ("branch3x3dbl_2", Conv(64, 96, 3, padding: 1)), ("branch3x3dbl_3", Conv(96, 96, 3, padding: 1))]),
        new Branch([("avg_pool", new AveragePool3x3()), ("branch_pool", Conv(c, poolFeatures, 1))]));

    private static InceptionBlock InceptionB(int c) => new(
        new Branch([("branch3x3", Conv(c, 384, 3, stride: 2))]),
        new Branch([("branch3x3dbl_1", Conv(c, 64, 1)), ("branch3x3dbl_2", Conv(64, 96, 3, padding: 1)), ("branch3x3dbl_3", Conv(96, 96, 3, stride: 2))]),
        new Branch([("max_pool", nn.MaxPool2d(3, stride: 2))]));

    private static InceptionBlock InceptionC(int c, int c7) => new(
        new Branch([("branch1x1", Conv(c, 192, 1))]),
        new Branch([
            ("branch7x7_1", Conv(c, c7, 1)),
            ("branch7x7_2", Conv(c7, c7, (1, 7), (0, 3))),
            ("branch7x7_3", Conv(c7, 192, (7, 1), (3, 0)))]),
        new Branch([
            ("branch7x7dbl_1", Conv(c, c7, 1)),
            ("branch7x7dbl_2", Conv(c7, c7, (7, 1), (3, 0))),
            ("branch7x7dbl_3", Conv(c7, c7, (1, 7), (0, 3))),
            ("branch7x7dbl_4", Conv(c7, c7, (7, 1), (3, 0))),
            ("branch7x7dbl_5", Conv(c7, 192, (1, 7), (0, 3)))]),
        new Branch([("avg_pool", new AveragePool3x3()), ("branch_pool", Conv(c, 192, 1))]));

    private static InceptionBlock InceptionD(int c) => new(
        new Branch([("branch3x3_1", Conv(c, 192, 1)), ("branch3x3_2", Conv(192, 320, 3, stride: 2))]),
        new Branch([
            ("branch7x7x3_1", Conv(c, 192, 1)),
            ("branch7x7x3_2", Conv(192, 192, (1, 7), (0, 3))),
            ("branch7x7x3_3", Conv(192, 192, (7, 1), (3, 0))),
            ("branch7x7x3_4", Conv(192, 192, 3, stride: 2))]),
        new Branch([("max_pool", nn.MaxPool2d(3, stride: 2))]));

    private static InceptionBlock InceptionE(int c) => new(
        new Branch([("branch1x1", Conv(c, 320, 1))]),
        new Branch(
            [("branch3x3_1", Conv(c, 384, 1))],
            [("branch3x3_2a", Conv(384, 384, (1, 3), (0, 1))), ("branch3x3_2b", Conv(384, 384, (3, 1), (1, 0)))]),
        new Branch(
            [("branch3x3dbl_1", Conv(c, 448, 1)), ("branch3x3dbl_2", Conv(448, 384, 3, padding: 1))],
            [("branch3x3dbl_3a", Conv(384, 384, (1, 3), (0, 1))), ("branch3x3dbl_3b", Conv(384, 384, (3, 1), (1, 0)))]),
        new Branch([("avg_pool", new AveragePool3x3()), ("branch_pool", Conv(c, 192, 1))]));
#pragma warning restore CA2000

    /// <summary>
    /// One path through an Inception module: modules in sequence, then optionally parallel modules whose outputs are
    /// concatenated (InceptionE's 1x3 | 3x1 pairs). Names are torchvision's attribute names.
    /// </summary>
    private sealed record Branch(
        IReadOnlyList<(string Name, nn.Module<Tensor, Tensor> Module)> Steps,
        IReadOnlyList<(string Name, nn.Module<Tensor, Tensor> Module)>? Split = null);

    /// <summary>An Inception module: every branch reads the same input; their outputs are concatenated on channels.</summary>
    private sealed class InceptionBlock : nn.Module<Tensor, Tensor>, IOnnxExportable
    {
        private readonly Branch[] branches;

        public InceptionBlock(params Branch[] branches) : base(nameof(InceptionBlock))
        {
            this.branches = branches;
            var pools = 0;
            foreach (var (name, module) in branches.SelectMany(b => b.Steps.Concat(b.Split ?? [])))
            {
                // Parameterless pools share a name across branches in torchvision (functional calls); number them here.
                register_module(module is BasicConv2d ? name : $"{name}{pools++}", module);
            }
        }

        public override Tensor forward(Tensor x)
        {
            using var scope = NewDisposeScope();
            var outputs = branches.Select(branch =>
            {
                var y = branch.Steps.Aggregate(x, (h, step) => step.Module.call(h));
                return branch.Split is null ? y : cat(branch.Split.Select(s => s.Module.call(y)).ToList(), 1);
            }).ToList();
            return cat(outputs, 1).MoveToOuterDisposeScope();
        }

        public string ExportOnnx(OnnxGraphBuilder graph, string input)
        {
            var outputs = branches.Select(branch =>
            {
                var y = branch.Steps.Aggregate(input, (h, step) => graph.Module(step.Module, h));
                return branch.Split is null ? y : graph.Concat([.. branch.Split.Select(s => graph.Module(s.Module, y))], 1);
            }).ToArray();
            return graph.Concat(outputs, 1);
        }
    }

    /// <summary>Convolution without bias, batch norm (eps 0.001), ReLU: torchvision's BasicConv2d.</summary>
    private sealed class BasicConv2d : nn.Module<Tensor, Tensor>, IOnnxExportable
    {
        private readonly Conv2d conv;
        private readonly BatchNorm2d bn;
        private readonly ReLU relu;

        public BasicConv2d(int input, int output, (long, long) kernel, (long, long) stride, (long, long) padding) : base(nameof(BasicConv2d))
        {
            conv = nn.Conv2d(input, output, kernel, stride: stride, padding: padding, bias: false);
            bn = nn.BatchNorm2d(output, eps: 0.001);
            relu = nn.ReLU();
            RegisterComponents();
        }

        public override Tensor forward(Tensor x)
        {
            using var scope = NewDisposeScope();
            return relu.call(bn.call(conv.call(x))).MoveToOuterDisposeScope();
        }

        public string ExportOnnx(OnnxGraphBuilder graph, string input) =>
            graph.Module(relu, graph.Module(bn, graph.Module(conv, input)));
    }

    /// <summary>3x3 average pool, stride 1, zero padding 1 counted in the average (PyTorch's default).</summary>
    private sealed class AveragePool3x3 : nn.Module<Tensor, Tensor>, IOnnxExportable
    {
        public AveragePool3x3() : base(nameof(AveragePool3x3))
        {
        }

        public override Tensor forward(Tensor x) => nn.functional.avg_pool2d(x, 3, stride: 1, padding: 1);

        public string ExportOnnx(OnnxGraphBuilder graph, string input) => graph.AveragePool(input, 3, 1, 1, countIncludePad: true);
    }
}
