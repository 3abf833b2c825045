using DogsVsCats.Vision.Trainer.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DogsVsCats.Vision.Trainer.Models;

/// <summary>The study's head: global average pool -> dropout 0.2 -> dense (logits; softmax lives in the loss and the export).</summary>
internal sealed class ClassifierHead : nn.Module<Tensor, Tensor>, IOnnxExportable
{
    private readonly AdaptiveAvgPool2d pool;
    private readonly Dropout dropout;
    private readonly Linear fc;

    public ClassifierHead(int inFeatures, int classes, double dropoutRate = 0.2) : base(nameof(ClassifierHead))
    {
        pool = nn.AdaptiveAvgPool2d(1);
        dropout = nn.Dropout(dropoutRate);
        fc = nn.Linear(inFeatures, classes);
        RegisterComponents();
    }

    public Linear Dense => fc;

    /// <summary>[N, C, h, w] feature maps -> [N, classes] logits.</summary>
    public override Tensor forward(Tensor features)
    {
        using var pooled = Pool(features);
        return ForwardPooled(pooled);
    }

    /// <summary>[N, C, h, w] -> [N, C]: what the <c>features</c> strategy caches.</summary>
    public Tensor Pool(Tensor features) => pool.call(features).flatten(1);

    /// <summary>[N, C] pooled features -> [N, classes] logits.</summary>
    public Tensor ForwardPooled(Tensor pooled)
    {
        using var dropped = dropout.call(pooled);
        return fc.call(dropped);
    }

    public string ExportOnnx(OnnxGraphBuilder graph, string input)
    {
        var pooled = graph.Flatten(graph.Module(pool, input), 1);   // [N, D]
        return graph.Module(fc, graph.Module(dropout, pooled));      // [N, classes] logits
    }

    /// <summary>
    /// Class activation maps: for a global-average-pool + dense head, the dense weights applied at every position of
    /// the feature maps, [N, D, h, w] -> [N, classes, h, w] (a 1x1 convolution; the bias is left out as in CAM).
    /// </summary>
    public string ExportCam(OnnxGraphBuilder graph, string features)
    {
        using var weight = fc.weight!.detach().reshape(fc.out_features, fc.in_features, 1, 1);
        return graph.PointwiseConv(features, weight, "cam.weight");
    }
}
