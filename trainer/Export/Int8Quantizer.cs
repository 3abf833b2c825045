using System.Globalization;
using DogsVsCats.Vision.Shared;
using Google.Protobuf;
using Onnx;

namespace DogsVsCats.Vision.Trainer.Export;

/// <summary>How activation ranges are taken from the calibration photos.</summary>
internal enum CalibrationMethod
{
    /// <summary>The smallest and largest value seen.</summary>
    MinMax,

    /// <summary>The values at <see cref="QuantizationSettings.Percentile"/> and 100 minus it (outliers clipped).</summary>
    Percentile,
}

internal sealed record QuantizationSettings
{
    /// <summary>Photos the activation ranges are measured on (training photos, never validation ones).</summary>
    public int CalibrationImages { get; init; } = 300;

    public CalibrationMethod Method { get; init; } = CalibrationMethod.MinMax;

    public double Percentile { get; init; } = 99.99;

    /// <summary>Photos per calibration run of the float model.</summary>
    public int BatchSize { get; init; } = 16;

    public int Threads { get; init; }
}

/// <summary>
/// Static int8 quantization of an exported float model, in QDQ form, for ONNX Runtime's CPU kernels.
/// The float graph is transformed, not rebuilt: batch norms are folded into the convolutions before them and zero
/// padding into the convolution or max pool after it, because ONNX Runtime only fuses
/// DequantizeLinear -> Conv -> QuantizeLinear into one int8 QLinearConv when nothing sits between. Then every
/// activation that feeds a convolution, residual Add or max pool of the backbone gets a QuantizeLinear/DequantizeLinear
/// pair (uint8, per tensor, asymmetric, ranges measured on calibration photos), and each of those convolutions gets
/// int8 per-output-channel symmetric weights and an int32 bias. A ReLU followed by a uint8 QuantizeLinear with zero
/// point 0 is dropped by ONNX Runtime (the saturation is the ReLU), so conv + ReLU runs as one QLinearConv.
/// The uint8 input, preprocessing, head, softmax and CAM stay float: contract v1 is unchanged.
/// </summary>
internal static class Int8Quantizer
{
    public const string Scheme = "int8-qdq";
    public const string FileSuffix = ".int8.onnx";

    private static readonly HashSet<string> QuantizedOps = ["Conv", "Add", "MaxPool"];

    /// <summary>model.onnx -> model.int8.onnx, beside it.</summary>
    public static string Int8Path(string floatModel) =>
        Path.Combine(Path.GetDirectoryName(Path.GetFullPath(floatModel))!, Path.GetFileNameWithoutExtension(floatModel) + FileSuffix);

    /// <summary>
    /// Reads the float model <paramref name="floatModel"/>, calibrates on <paramref name="photos"/> (uint8 BGR
    /// [H, W, 3] each, already resized by <see cref="ImagePreprocessing"/>) and writes the int8 model atomically.
    /// </summary>
    public static ModelDescription QuantizeFile(string floatModel, IReadOnlyList<byte[]> photos, string output, bool overwrite, QuantizationSettings settings)
    {
        var full = ModelExporter.Destination(output, overwrite);

        if (photos.Count == 0)
        {
            throw new ExportException("No calibration photo: int8 calibration needs a few hundred training photos.");
        }

        ModelProto model;
        using (var stream = File.OpenRead(floatModel))
        {
            model = ModelProto.Parser.ParseFrom(stream);
        }

        var properties = model.MetadataProps.ToDictionary(p => p.Key, p => p.Value);
        var metadata = ModelDescription.FromProperties(properties, floatModel);
        if (metadata.Quantization is not null)
        {
            throw new ExportException($"{floatModel} is already quantized ({metadata.Quantization}); quantize the float model.");
        }

        var used = CalibrationPhotos.EvenlySpaced(photos, settings.CalibrationImages);
        var quantized = Quantize(model, metadata, used, settings);
        metadata = metadata with
        {
            Quantization = $"{Scheme}: uint8 activations per tensor ({Describe(settings)}), int8 weights per channel, symmetric",
            CalibrationImages = used.Count,
        };
        quantized.MetadataProps.Clear();
        foreach (var (key, value) in metadata.ToProperties())
        {
            quantized.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
        }

        quantized.DocString = $"{model.DocString} Quantized to int8 (QDQ), calibrated on {used.Count} photos.";
        ModelExporter.Write(quantized, full, overwrite);

        return metadata;
    }

    public static string Describe(QuantizationSettings settings) => settings.Method == CalibrationMethod.MinMax
        ? "min/max"
        : $"percentile {settings.Percentile.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>The QDQ model for a float model of contract v1 (the input is not changed).</summary>
    public static ModelProto Quantize(ModelProto floatModel, ModelDescription metadata, IReadOnlyList<byte[]> photos, QuantizationSettings settings)
    {
        var model = floatModel.Clone();
        var graph = new QdqGraphEditor(model.Graph);
        graph.FoldBatchNorms();
        graph.FoldPads();
        graph.Commit();   // calibration runs the folded graph
        var backbone = graph.Backbone();
        var targets = backbone.Where(n => QuantizedOps.Contains(n.OpType) && (n.OpType != "Conv" || graph.IsInitializer(n.Input[1])))
            .ToList();
        // Activation inputs of the nodes to quantize, in graph order (topological).
        var tensors = targets.SelectMany(n => n.OpType == "Conv" ? [n.Input[0]] : n.Input.Where(i => !graph.IsInitializer(i)))
            .Distinct().ToList();
        var ranges = ActivationRanges.Measure(model, metadata, tensors, photos, settings);
        var parameters = new Dictionary<string, (float Scale, byte ZeroPoint)>();
        foreach (var tensor in tensors)
        {
            // A max pool only picks values: giving its output its input's scale lets ONNX Runtime run it on uint8 directly.
            var producer = graph.Producer(tensor);
            parameters[tensor] = producer is { OpType: "MaxPool" } && parameters.TryGetValue(producer.Input[0], out var same)
                ? same
                : ActivationRanges.UInt8Parameters(ranges[tensor].Min, ranges[tensor].Max);
        }

        var convolutions = targets.Where(n => n.OpType == "Conv").Select(n => (Node: n, InputScale: parameters[n.Input[0]].Scale)).ToList();
        graph.InsertQdq(parameters);
        foreach (var (conv, inputScale) in convolutions)
        {
            graph.QuantizeConvWeights(conv, inputScale);
        }

        graph.Commit();
        return model;
    }
}
