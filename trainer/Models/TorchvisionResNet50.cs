using DogsVsCats.Vision.Trainer.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DogsVsCats.Vision.Trainer.Models;

/// <summary>
/// torchvision's <c>resnet50</c> up to <c>layer4</c> (ResNet v1.5: the stride sits on the 3x3 convolution), 224 px,
/// ImageNet mean and std. Weights come from a torchvision state_dict the user supplies.
/// </summary>
internal sealed class TorchvisionResNet50 : TorchvisionBackbone
{
    public const string BackboneName = "resnet50";
    public const int Size = 224;

    private readonly Conv2d conv1;
    private readonly BatchNorm2d bn1;
    private readonly ReLU relu;
    private readonly MaxPool2d maxpool;
    private readonly Sequential layer1;
    private readonly Sequential layer2;
    private readonly Sequential layer3;
    private readonly Sequential layer4;

    public TorchvisionResNet50(int inputSize = Size) : base(nameof(TorchvisionResNet50), inputSize, [0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
    {
        conv1 = nn.Conv2d(3, 64, 7, stride: 2, padding: 3, bias: false);
        bn1 = nn.BatchNorm2d(64, eps: 1e-5);
        relu = nn.ReLU();
        maxpool = nn.MaxPool2d(3, stride: 2, padding: 1);
        layer1 = Stage(64, 64, 3, 1);
        layer2 = Stage(256, 128, 4, 2);
        layer3 = Stage(512, 256, 6, 2);
        layer4 = Stage(1024, 512, 3, 2);
        RegisterComponents();
    }

    public static BackboneInfo Description { get; } = new(
        BackboneName, Size, Size, 2048,
        "BGR -> RGB, /255, minus ImageNet mean (0.485, 0.456, 0.406), divided by std (0.229, 0.224, 0.225)",
        ["layer1", "layer2", "layer3", "layer4"]);

    public override IReadOnlyList<nn.Module<Tensor, Tensor>> Blocks => [layer1, layer2, layer3, layer4];   // layer3 -> [N, 1024, 14, 14], layer4 -> [N, 2048, 7, 7] at 224 px

    public override string Architecture => BackboneName;

    protected override BackboneInfo Native => Description;

    protected override IReadOnlyList<nn.Module<Tensor, Tensor>> FirstLayers => [conv1, bn1, relu, maxpool];   // [N, 64, 56, 56] at 224 px

    private static Sequential Stage(int inPlanes, int planes, int blocks, int stride)
    {
        var modules = new List<(string, nn.Module<Tensor, Tensor>)> { ("0", new Bottleneck(inPlanes, planes, stride)) };
        for (var i = 1; i < blocks; i++)
        {
            modules.Add((i.ToString(System.Globalization.CultureInfo.InvariantCulture), new Bottleneck(planes * Bottleneck.Expansion, planes, 1)));
        }

        return nn.Sequential(modules);
    }

    /// <summary>1x1 reduce, 3x3 (strided), 1x1 expand x4, with a projected shortcut when the shape changes.</summary>
    private sealed class Bottleneck : nn.Module<Tensor, Tensor>, IOnnxExportable
    {
        public const int Expansion = 4;

        private readonly Conv2d conv1;
        private readonly BatchNorm2d bn1;
        private readonly Conv2d conv2;
        private readonly BatchNorm2d bn2;
        private readonly Conv2d conv3;
        private readonly BatchNorm2d bn3;
        private readonly ReLU relu;
        private readonly Sequential? downsample;

        public Bottleneck(int inPlanes, int planes, int stride) : base(nameof(Bottleneck))
        {
            conv1 = nn.Conv2d(inPlanes, planes, 1, bias: false);
            bn1 = nn.BatchNorm2d(planes, eps: 1e-5);
            conv2 = nn.Conv2d(planes, planes, 3, stride: stride, padding: 1, bias: false);
            bn2 = nn.BatchNorm2d(planes, eps: 1e-5);
            conv3 = nn.Conv2d(planes, planes * Expansion, 1, bias: false);
            bn3 = nn.BatchNorm2d(planes * Expansion, eps: 1e-5);
            relu = nn.ReLU();
            if (stride != 1 || inPlanes != planes * Expansion)
            {
                downsample = nn.Sequential(
                    ("0", nn.Conv2d(inPlanes, planes * Expansion, 1, stride: stride, bias: false)),
                    ("1", nn.BatchNorm2d(planes * Expansion, eps: 1e-5)));
            }

            RegisterComponents();
        }

        public override Tensor forward(Tensor x)
        {
            using var scope = NewDisposeScope();
            var y = relu.call(bn1.call(conv1.call(x)));
            y = relu.call(bn2.call(conv2.call(y)));
            y = bn3.call(conv3.call(y));
            var identity = downsample is null ? x : downsample.call(x);
            return relu.call(y + identity).MoveToOuterDisposeScope();
        }

        public string ExportOnnx(OnnxGraphBuilder graph, string input)
        {
            var y = graph.Module(relu, graph.Module(bn1, graph.Module(conv1, input)));
            y = graph.Module(relu, graph.Module(bn2, graph.Module(conv2, y)));
            y = graph.Module(bn3, graph.Module(conv3, y));
            var identity = downsample is null ? input : graph.Module(downsample, input);
            return graph.Module(relu, graph.Add(y, identity));
        }
    }
}
