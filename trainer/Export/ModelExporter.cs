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
internal static class ModelExporter
{
    public const string Producer = "DogsVsCats.Vision trainer";

    public static string ProducerVersion { get; } =
        typeof(ModelExporter).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0";

    /// <summary>Loads a full-model checkpoint (with its .json description) and exports it; <paramref name="tta"/>, when given, replaces the description's.</summary>
    public static ModelDescription ExportCheckpoint(string checkpoint, string output, bool overwrite, TestTimeAugmentation? tta = null)
    {
        var info = CheckpointInfo.Load(checkpoint);
        info = tta is { } replaced ? info with { Tta = replaced.Name() } : info;
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
    /// logits / temperature -> Softmax = probabilities [N, C]; the head's weights over the last feature maps = cam [N, C, h, w].
    /// With <c>tta</c> = flip in <paramref name="metadata"/> the graph also runs the mirrored image and averages (see
    /// <see cref="Export(IReadOnlyList{TransferModel}, ModelDescription, string, bool)"/>).
    /// Written to a temporary file beside <paramref name="output"/> and renamed, so no half file is ever left.
    /// </summary>
    public static void Export(TransferModel model, ModelDescription metadata, string output, bool overwrite) => Export([model], metadata, output, overwrite);

    /// <summary>
    /// One graph for one model or an ensemble: probabilities are the mean over members (and, with test-time
    /// augmentation, over the image and its mirror) of softmax(logits / temperature); cam is the mean of the members'
    /// maps, the mirror's flipped back. Layers the members hold identically run once: the stem when every stem is the
    /// same, a last stage shared by members whose last stages are the same.
    /// </summary>
    public static void Export(IReadOnlyList<TransferModel> members, ModelDescription metadata, string output, bool overwrite)
    {
        if (members.Count == 0)
        {
            throw new ArgumentException("An export needs at least one model.", nameof(members));
        }

        // A description read from a checkpoint's .json may name any text: checked before anything is written.
        var flip = TestTimeAugmentations.Parse(metadata.Tta) == TestTimeAugmentation.Flip;
        var full = Destination(output, overwrite);
        var directory = Path.GetDirectoryName(full)!;
        try
        {
            Directory.CreateDirectory(directory);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ExportException($"Cannot create the folder '{directory}' for the model: {e.Message}", e);
        }

        foreach (var member in members)
        {
            member.eval();
        }

        var classes = metadata.Labels.Count;
        var (featureHeight, featureWidth) = FeatureMapSize(members[0].Backbone, metadata);
        var graph = new OnnxGraphBuilder();
        graph.Input(ModelContract.InputName, TensorProto.Types.DataType.Uint8, "N", metadata.InputHeight, metadata.InputWidth, 3);
        var pixels = graph.Transpose(graph.Cast(ModelContract.InputName, TensorProto.Types.DataType.Float), 0, 3, 1, 2);  // [N, 3, H, W]
        if (flip)
        {
            // The image and its mirror as one batch [2N, 3, H, W]: the first N rows are the images, the next N their mirrors.
            pixels = graph.Concat([pixels, graph.Gather(pixels, 3, Reversed(metadata.InputWidth))], 0);
        }

        var (probabilities, cams) = (new List<string>(), new List<string>());
        foreach (var stemGroup in SharedLayers.Group(members, m => m.Backbone, SharedLayers.SameStem))
        {
            var stem = stemGroup[0].Backbone.ExportStem(graph, pixels);
            foreach (var stageGroup in SharedLayers.Group(stemGroup, m => m.Backbone, SharedLayers.SameLastStage))
            {
                var features = graph.Module(stageGroup[0].Backbone.LastStage, stem);   // [B, D, h, w]
                foreach (var member in stageGroup)
                {
                    var logits = graph.Module(member.Head, features);                   // [B, C]
                    if (metadata.Temperature != 1)
                    {
                        using var temperature = tensor((float)metadata.Temperature);
                        logits = graph.Node("Div", [logits, graph.Initializer("temperature", temperature)], "div");
                    }

                    probabilities.Add(graph.Softmax(logits, 1));
                    cams.Add(member.Head.ExportCam(graph, features));                 // [B, C, h, w]
                }
            }
        }

        var probability = Mean(graph, probabilities);
        var cam = Mean(graph, cams);
        if (flip)
        {
            probability = graph.ReduceMean(graph.Reshape(probability, [2, -1, classes]), 0);   // [N, C]
            var halves = graph.Reshape(cam, [2, -1, classes, featureHeight, featureWidth]);     // [2, N, C, h, w]
            var mirrored = graph.Gather(graph.Gather(halves, 0, [1]), 4, Reversed(featureWidth));
            cam = graph.ReduceMean(graph.Concat([graph.Gather(halves, 0, [0]), mirrored], 0), 0);   // [N, C, h, w]
        }

        graph.Output(probability, ModelContract.ProbabilitiesName, TensorProto.Types.DataType.Float, "N", classes);
        graph.Output(cam, ModelContract.CamName, TensorProto.Types.DataType.Float, "N", classes, featureHeight, featureWidth);

        var proto = graph.ToModel();
        proto.ProducerName = Producer;
        proto.ProducerVersion = ProducerVersion;
        proto.DocString = $"DogsVsCats.Vision model contract v{ModelContract.Version}: {metadata.Backbone}, strategy {metadata.Strategy}, labels {string.Join(", ", metadata.Labels)}.";
        foreach (var (key, value) in metadata.ToProperties())
        {
            proto.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
        }

        Write(proto, full, overwrite);
    }

    /// <summary>
    /// The full path of <paramref name="output"/>, checked before any work is spent on the file: an existing one is
    /// refused unless <paramref name="overwrite"/> (<c>--force</c>).
    /// </summary>
    public static string Destination(string output, bool overwrite)
    {
        var full = Path.GetFullPath(output);
        if (File.Exists(full) && !overwrite)
        {
            throw new ExportException($"'{full}' exists; it is left as it is. Choose another --out, or pass --force to replace it.");
        }

        return full;
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

    /// <summary>The mean of same-shaped values (the value itself when there is one).</summary>
    private static string Mean(OnnxGraphBuilder graph, List<string> values)
    {
        if (values.Count == 1)
        {
            return values[0];
        }

        using var share = tensor(1f / values.Count);
        return graph.Mul(graph.Node("Sum", [.. values], "sum"), graph.Initializer("mean.share", share));
    }

    /// <summary>Indices size-1 .. 0: a Gather with them mirrors that axis.</summary>
    private static long[] Reversed(long size) => [.. Enumerable.Range(0, (int)size).Select(i => size - 1 - i)];

    private static (long Height, long Width) FeatureMapSize(Backbone backbone, ModelDescription metadata)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var device = backbone.parameters().First().device;
        var probe = backbone.call(zeros(1, 3, metadata.InputHeight, metadata.InputWidth, device: device));
        return (probe.shape[2], probe.shape[3]);
    }
}
