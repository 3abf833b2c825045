using System.Reflection;
using DogsVsCats.Vision.Shared;
using DogsVsCats.Vision.Trainer.Models;
using DogsVsCats.Vision.Trainer.Onnx;
using Google.Protobuf;
using Onnx;
using TorchSharp;
using static TorchSharp.torch;

namespace DogsVsCats.Vision.Trainer.Export;

/// <summary>Writes a trained model as one self-describing ONNX file (model contract version 1, see <see cref="ModelContract"/>).</summary>
public static class ModelExporter
{
    public const string Producer = "DogsVsCats.Vision trainer";

    public static string ProducerVersion { get; } =
        typeof(ModelExporter).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0";

    /// <summary>Loads a full-model checkpoint (with its .json description) and exports it.</summary>
    public static ModelDescription ExportCheckpoint(string checkpoint, string output, bool overwrite)
    {
        var info = CheckpointInfo.Load(checkpoint);
        var backbone = Backbones.Describe(info.Backbone);
        using var model = new TransferModel(Backbones.Architecture(info.Backbone, info.InputWidth), new ClassifierHead(backbone.FeatureChannels, info.Labels.Count));
        try
        {
            model.load(checkpoint);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new ExportException($"Checkpoint '{checkpoint}' does not match a {info.Backbone} network with {info.Labels.Count} classes ({string.Join(", ", info.Labels)}): {e.Message}", e);
        }

        Export(model, info, output, overwrite);
        return info;
    }

    /// <summary>
    /// image uint8 [N, H, W, 3] BGR -> Cast -> Transpose to NCHW -> backbone (normalisation inside) -> head ->
    /// Softmax = probabilities [N, C]; the head's weights over the last feature maps = cam [N, C, h, w].
    /// Written to a temporary file beside <paramref name="output"/> and renamed, so no half file is ever left.
    /// </summary>
    public static void Export(TransferModel model, ModelDescription metadata, string output, bool overwrite)
    {
        var full = Path.GetFullPath(output);
        if (File.Exists(full) && !overwrite)
        {
            throw new ExportException($"'{full}' exists; it is left as it is. Choose another --out, or pass --force to replace it.");
        }

        var directory = Path.GetDirectoryName(full)!;
        try
        {
            Directory.CreateDirectory(directory);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ExportException($"Cannot create the folder '{directory}' for the model: {e.Message}", e);
        }

        model.eval();
        var classes = metadata.Labels.Count;
        var (featureHeight, featureWidth) = FeatureMapSize(model.Backbone, metadata);
        var graph = new OnnxGraphBuilder();
        graph.Input(ModelContract.InputName, TensorProto.Types.DataType.Uint8, "N", metadata.InputHeight, metadata.InputWidth, 3);
        var pixels = graph.Transpose(graph.Cast(ModelContract.InputName, TensorProto.Types.DataType.Float), 0, 3, 1, 2);  // [N, 3, H, W]
        var features = graph.Module(model.Backbone, pixels);                                                           // [N, D, h, w]
        var logits = graph.Module(model.Head, features);                                                               // [N, C]
        graph.Output(graph.Softmax(logits, 1), ModelContract.ProbabilitiesName, TensorProto.Types.DataType.Float, "N", classes);
        graph.Output(model.Head.ExportCam(graph, features), ModelContract.CamName, TensorProto.Types.DataType.Float, "N", classes, featureHeight, featureWidth);

        var proto = new ModelProto
        {
            IrVersion = 7,
            ProducerName = Producer,
            ProducerVersion = ProducerVersion,
            DocString = $"DogsVsCats.Vision model contract v{ModelContract.Version}: {metadata.Backbone}, strategy {metadata.Strategy}, labels {string.Join(", ", metadata.Labels)}.",
            Graph = graph.Graph,
        };
        proto.OpsetImport.Add(new OperatorSetIdProto { Domain = string.Empty, Version = OnnxGraphBuilder.Opset });
        foreach (var (key, value) in metadata.ToProperties())
        {
            proto.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
        }

        Write(proto, full, overwrite);
    }

    /// <summary>Writes <paramref name="model"/> through a temporary file and a rename, so no half file is ever left.</summary>
    public static void Write(ModelProto model, string path, bool overwrite)
    {
        try
        {
            AtomicFile.Write(path, temp =>
            {
                using var stream = File.Create(temp);
                model.WriteTo(stream);
            }, overwrite);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ExportException($"Cannot write '{path}': {e.Message}", e);
        }
    }

    private static (long Height, long Width) FeatureMapSize(Backbone backbone, ModelDescription metadata)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var device = backbone.parameters().First().device;
        var probe = backbone.call(zeros(1, 3, metadata.InputHeight, metadata.InputWidth, device: device));
        return (probe.shape[2], probe.shape[3]);
    }
}
