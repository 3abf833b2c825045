using DogsVsCats.Vision.Trainer.Onnx;
using Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DogsVsCats.Vision.Trainer.Models;

/// <summary>
/// The ImageNet ResNet-18 shipped in NuGet Microsoft.ML.DnnImageFeaturizer.ResNet18 (a CNTK 2.6 export), rebuilt
/// layer for layer. It is not torchvision's resnet18: the stages hold [2, 2, 2, 3] basic blocks, and every stride-2
/// convolution and the stem's max pool pad only at the top and left (CNTK's asymmetric "same" padding).
/// Input normalisation is the package's own: subtract a per-pixel BGR mean image.
/// </summary>
internal sealed class CntkResNet18 : Backbone
{
    public const string BackboneName = "resnet18-imagenet";
    public const int Size = 224;

    private readonly ZeroPad2d stem_pad;
    private readonly Conv2d conv1;
    private readonly BatchNorm2d bn1;
    private readonly ReLU relu;
    private readonly ZeroPad2d pool_pad;
    private readonly MaxPool2d maxpool;
    private readonly Sequential layer1;
    private readonly Sequential layer2;
    private readonly Sequential layer3;
    private readonly Sequential layer4;

    public CntkResNet18(int inputSize = Size) : base(nameof(CntkResNet18), inputSize)
    {
        // [1, 3, size, size] BGR mean image; replaced by the package's values (resized to the input) in LoadOnnxWeights.
        register_buffer("mean_image", zeros(1, 3, inputSize, inputSize));
        stem_pad = nn.ZeroPad2d((3, 2, 3, 2));
        conv1 = nn.Conv2d(3, 64, 7, stride: 2, bias: false);
        bn1 = nn.BatchNorm2d(64, eps: 1e-5);
        relu = nn.ReLU();
        // Zero padding equals -inf padding here: the pool follows a ReLU, so every input is >= 0.
        pool_pad = nn.ZeroPad2d((1, 0, 1, 0));
        maxpool = nn.MaxPool2d(3, stride: 2);
        layer1 = Stage(64, 64, 2, 1);
        layer2 = Stage(64, 128, 2, 2);
        layer3 = Stage(128, 256, 2, 2);
        layer4 = Stage(256, 512, 3, 2);
        RegisterComponents();
    }

    public static BackboneInfo Description { get; } = new(
        BackboneName, Size, Size, 512,
        "BGR 0..255 minus the package's 224x224 BGR mean image (Caffe style, no scaling)",
        ["layer1", "layer2", "layer3", "layer4"]);

    public override IReadOnlyList<nn.Module<Tensor, Tensor>> Blocks => [layer1, layer2, layer3, layer4];   // layer3 -> [N, 256, 14, 14], layer4 -> [N, 512, 7, 7] at 224 px

    public Tensor MeanImage => get_buffer("mean_image")!;

    protected override BackboneInfo Native => Description;

    protected override IReadOnlyList<nn.Module<Tensor, Tensor>> FirstLayers => [stem_pad, conv1, bn1, relu, pool_pad, maxpool];   // [N, 64, 56, 56] at 224 px

    protected override Tensor Normalise(Tensor input) => input - MeanImage;

    protected override string ExportNormalise(OnnxGraphBuilder graph, string input) => graph.Sub(input, graph.Initializer("mean_image", MeanImage));

    /// <summary>Loads the package's weights: convolutions and batch norms are matched in graph order, shapes checked.</summary>
    public void LoadOnnxWeights(string resNet18Onnx, string preprocessOnnx)
    {
        var graph = LoadModel(resNet18Onnx).Graph;
        var initializers = graph.Initializer.ToDictionary(t => t.Name);
        var targets = ConvolutionsAndNorms().ToList();
        var sources = graph.Node.Where(n => n.OpType is "Conv" or "BatchNormalization").ToList();
        if (sources.Count != targets.Count)
        {
            throw new InvalidDataException(
                $"{resNet18Onnx} has {sources.Count} conv/batch-norm nodes, this network {targets.Count}: not the ResNet-18 this program expects.");
        }

        using var noGrad = no_grad();
        for (var i = 0; i < targets.Count; i++)
        {
            var node = sources[i];
            switch (targets[i])
            {
                case Conv2d conv when node.OpType == "Conv":
                    Copy(initializers[node.Input[1]], conv.weight!, node.Name);
                    break;
                case BatchNorm2d bn when node.OpType == "BatchNormalization":
                    Copy(initializers[node.Input[1]], bn.weight!, node.Name);
                    Copy(initializers[node.Input[2]], bn.bias!, node.Name);
                    Copy(initializers[node.Input[3]], bn.running_mean!, node.Name);
                    Copy(initializers[node.Input[4]], bn.running_var!, node.Name);
                    break;
                default:
                    throw new InvalidDataException($"{resNet18Onnx}: node {i} ({node.OpType}) does not line up with {targets[i].GetName()}.");
            }
        }

        var prep = LoadModel(preprocessOnnx).Graph.Initializer.Single(t => t.Name == "MeanImage");
        using var mean = zeros(1, 3, Size, Size);
        Copy(prep, mean, "MeanImage");
        // Another input size takes the package's 224 px mean image resized the way photos are (bilinear).
        using var resized = InputSize == Size ? mean.clone() : nn.functional.interpolate(mean, [InputSize, InputSize], mode: InterpolationMode.Bilinear, align_corners: false);
        MeanImage.copy_(resized);
    }

    /// <summary>Convolutions and batch norms in the order the CNTK graph lists them (shortcut before main path).</summary>
    private IEnumerable<nn.Module> ConvolutionsAndNorms()
    {
        yield return conv1;
        yield return bn1;
        foreach (var stage in new[] { layer1, layer2, layer3, layer4 })
        {
            foreach (var block in stage.children().Cast<BasicBlock>())
            {
                foreach (var module in block.ConvolutionsAndNorms())
                {
                    yield return module;
                }
            }
        }
    }

    private static Sequential Stage(int inPlanes, int planes, int blocks, int stride)
    {
        var modules = new List<(string, nn.Module<Tensor, Tensor>)> { ("0", new BasicBlock(inPlanes, planes, stride)) };
        for (var i = 1; i < blocks; i++)
        {
            modules.Add((i.ToString(), new BasicBlock(planes, planes, 1)));
        }

        return nn.Sequential(modules);
    }

    private static ModelProto LoadModel(string path)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"Pretrained weights not found at {path}. Rebuild the trainer (dotnet build) so NuGet restores Microsoft.ML.DnnImageFeaturizer.ResNet18 and copies its models beside the program.", path);
        }

        using var stream = File.OpenRead(path);
        return ModelProto.Parser.ParseFrom(stream);
    }

    private static void Copy(TensorProto source, Tensor target, string node)
    {
        var shape = source.Dims.ToArray();
        if (!shape.SequenceEqual(target.shape))
        {
            throw new InvalidDataException($"Node {node}: weight {source.Name} has shape [{string.Join(", ", shape)}], expected [{string.Join(", ", target.shape)}].");
        }

        float[] values = source.RawData.IsEmpty
            ? [.. source.FloatData]
            : System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(source.RawData.Span).ToArray();
        using var loaded = tensor(values, shape);
        target.copy_(loaded);
    }

    /// <summary>Two 3x3 convolutions with a shortcut; stride 2 pads top/left only, and projects the shortcut by 1x1/2.</summary>
    private sealed class BasicBlock : nn.Module<Tensor, Tensor>, IOnnxExportable
    {
        private readonly Sequential? downsample;
        private readonly nn.Module<Tensor, Tensor> pad;
        private readonly Conv2d conv1;
        private readonly BatchNorm2d bn1;
        private readonly ReLU relu;
        private readonly Conv2d conv2;
        private readonly BatchNorm2d bn2;

        public BasicBlock(int in_planes, int planes, int stride) : base(nameof(BasicBlock))
        {
            if (stride != 1 || in_planes != planes)
            {
                downsample = nn.Sequential(
                    ("0", nn.Conv2d(in_planes, planes, 1, stride: stride, bias: false)),
                    ("1", nn.BatchNorm2d(planes, eps: 1e-5)));
            }

            pad = stride == 1 ? nn.ZeroPad2d(1) : nn.ZeroPad2d((1, 0, 1, 0));
            conv1 = nn.Conv2d(in_planes, planes, 3, stride: stride, bias: false);
            bn1 = nn.BatchNorm2d(planes, eps: 1e-5);
            relu = nn.ReLU();
            conv2 = nn.Conv2d(planes, planes, 3, padding: 1, bias: false);
            bn2 = nn.BatchNorm2d(planes, eps: 1e-5);
            RegisterComponents();
        }

        public override Tensor forward(Tensor x)
        {
            using var scope = NewDisposeScope();
            var identity = downsample is null ? x : downsample.call(x);
            var y = relu.call(bn1.call(conv1.call(pad.call(x))));
            y = bn2.call(conv2.call(y));
            return relu.call(y + identity).MoveToOuterDisposeScope();
        }

        public string ExportOnnx(OnnxGraphBuilder graph, string input)
        {
            var identity = downsample is null ? input : graph.Module(downsample, input);
            var y = graph.Module(relu, graph.Module(bn1, graph.Module(conv1, graph.Module(pad, input))));
            y = graph.Module(bn2, graph.Module(conv2, y));
            return graph.Module(relu, graph.Add(y, identity));
        }

        public IEnumerable<nn.Module> ConvolutionsAndNorms()
        {
            if (downsample is not null)
            {
                foreach (var m in downsample.children())
                {
                    yield return m;
                }
            }

            yield return conv1;
            yield return bn1;
            yield return conv2;
            yield return bn2;
        }
    }
}
