using DogsVsCats.Vision.Trainer.Onnx;
using TorchSharp;
using static TorchSharp.torch;

namespace DogsVsCats.Vision.Trainer.Models;

/// <summary>Backbone + head: float BGR [N, 3, H, W] 0..255 -> logits [N, classes].</summary>
internal sealed class TransferModel : nn.Module<Tensor, Tensor>, IOnnxExportable
{
    private readonly Backbone backbone;
    private readonly ClassifierHead head;

    public TransferModel(Backbone backbone, ClassifierHead head) : base(nameof(TransferModel))
    {
        this.backbone = backbone;
        this.head = head;
        RegisterComponents();
    }

    public Backbone Backbone => backbone;

    public ClassifierHead Head => head;

    public override Tensor forward(Tensor input)
    {
        using var features = backbone.call(input);
        return head.call(features);
    }

    public string ExportOnnx(OnnxGraphBuilder graph, string input) => graph.Module(head, graph.Module(backbone, input));
}
