using System.Globalization;
using System.Runtime.InteropServices;
using DogsVsCats.Vision.Shared;
using DogsVsCats.Vision.Trainer.Data;
using DogsVsCats.Vision.Trainer.Onnx;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace DogsVsCats.Vision.Trainer.Export;

/// <summary>How activation ranges are taken from the calibration photos.</summary>
public enum CalibrationMethod
{
    /// <summary>The smallest and largest value seen.</summary>
    MinMax,

    /// <summary>The values at <see cref="QuantizationSettings.Percentile"/> and 100 minus it (outliers clipped).</summary>
    Percentile,
}

public sealed record QuantizationSettings
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
public static class Int8Quantizer
{
    public const string Scheme = "int8-qdq";
    public const string FileSuffix = ".int8.onnx";

    private static readonly HashSet<string> QuantizedOps = ["Conv", "Add", "MaxPool"];

    /// <summary>model.onnx -> model.int8.onnx, beside it.</summary>
    public static string Int8Path(string floatModel) =>
        Path.Combine(Path.GetDirectoryName(Path.GetFullPath(floatModel))!, Path.GetFileNameWithoutExtension(floatModel) + FileSuffix);

    /// <summary>
    /// Calibration photos from a folder: when it is a labelled dataset (as <c>trainer train</c> reads it), only its
    /// training split (validation fraction 0.2, seed 42, as <c>train</c>'s defaults) so accuracy measured on the
    /// validation split stays honest; otherwise every photo under it. Evenly spaced, at most <paramref name="count"/>.
    /// </summary>
    public static IReadOnlyList<byte[]> LoadCalibrationPhotos(string folder, int width, int height, int count)
    {
        var full = Path.GetFullPath(folder);
        if (!Directory.Exists(full))
        {
            throw new ExportException($"The calibration folder '{full}' does not exist. Pass a folder of training photos with --calibration.");
        }

        IReadOnlyList<string> files;
        try
        {
            files = [.. DatasetScanner.Scan(full).Train.Select(f => f.Path)];
        }
        catch (DatasetException)
        {
            files = [.. Directory.EnumerateFiles(full, "*", SearchOption.AllDirectories).Where(ImageFile.IsImagePath).Order(StringComparer.Ordinal)];
        }

        var photos = DecodeCalibrationPhotos(files, width, height, count);
        if (photos.Count == 0)
        {
            throw new ExportException($"No readable photo in '{full}' ({files.Count} image file(s) tried): int8 calibration needs a few hundred training photos (.jpg, .png, ...).");
        }

        return photos;
    }

    /// <summary>
    /// At most <paramref name="count"/> of <paramref name="paths"/>, evenly spaced, decoded and resized (unreadable ones
    /// left out): the only photos calibration holds in memory.
    /// </summary>
    public static IReadOnlyList<byte[]> DecodeCalibrationPhotos(IReadOnlyList<string> paths, int width, int height, int count)
    {
        var chosen = EvenlySpaced(paths, count).Select(p => new LabeledFile(p, 0)).ToList();
        return ImageLoader.Load(chosen, width, height, []).Pixels;
    }

    /// <summary>At most <paramref name="count"/> items spread evenly over <paramref name="items"/>, in order.</summary>
    public static IReadOnlyList<T> EvenlySpaced<T>(IReadOnlyList<T> items, int count)
    {
        ArgumentNullException.ThrowIfNull(items);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        return items.Count <= count ? items : [.. Enumerable.Range(0, count).Select(i => items[(int)((long)i * items.Count / count)])];
    }

    /// <summary>
    /// Reads the float model <paramref name="floatModel"/>, calibrates on <paramref name="photos"/> (uint8 BGR
    /// [H, W, 3] each, already resized by <see cref="ImagePreprocessing"/>) and writes the int8 model atomically.
    /// </summary>
    public static ModelDescription QuantizeFile(string floatModel, IReadOnlyList<byte[]> photos, string output, bool overwrite, QuantizationSettings settings)
    {
        ArgumentNullException.ThrowIfNull(photos);
        ArgumentNullException.ThrowIfNull(settings);
        var full = Path.GetFullPath(output);
        if (File.Exists(full) && !overwrite)
        {
            throw new ExportException($"'{full}' exists; it is left as it is. Choose another --out, or pass --force to replace it.");
        }

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

        var used = EvenlySpaced(photos, settings.CalibrationImages);
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
        ArgumentNullException.ThrowIfNull(floatModel);
        ArgumentNullException.ThrowIfNull(metadata);
        ArgumentNullException.ThrowIfNull(settings);
        var model = floatModel.Clone();
        var graph = new GraphEditor(model.Graph);
        graph.FoldBatchNorms();
        graph.FoldPads();
        graph.Commit();   // calibration runs the folded graph
        var backbone = graph.Backbone();
        var targets = backbone.Where(n => QuantizedOps.Contains(n.OpType) && (n.OpType != "Conv" || graph.IsInitializer(n.Input[1])))
            .ToList();
        // Activation inputs of the nodes to quantize, in graph order (topological).
        var tensors = targets.SelectMany(n => n.OpType == "Conv" ? [n.Input[0]] : n.Input.Where(i => !graph.IsInitializer(i)))
            .Distinct().ToList();
        var ranges = Calibrate(model, metadata, tensors, photos, settings);
        var parameters = new Dictionary<string, (float Scale, byte ZeroPoint)>();
        foreach (var tensor in tensors)
        {
            // A max pool only picks values: giving its output its input's scale lets ONNX Runtime run it on uint8 directly.
            var producer = graph.Producer(tensor);
            parameters[tensor] = producer is { OpType: "MaxPool" } && parameters.TryGetValue(producer.Input[0], out var same)
                ? same
                : UInt8Parameters(ranges[tensor].Min, ranges[tensor].Max);
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

    /// <summary>Asymmetric uint8: the range always holds 0 (exactly representable, so zero padding stays exact).</summary>
    public static (float Scale, byte ZeroPoint) UInt8Parameters(float min, float max)
    {
        min = Math.Min(min, 0);
        max = Math.Max(max, 0);
        if (max - min < 1e-12f)
        {
            return (1f, 0);
        }

        var scale = (max - min) / 255f;
        return (scale, (byte)Math.Clamp(MathF.Round(-min / scale), 0, 255));
    }

    /// <summary>Runs the float model with <paramref name="tensors"/> as extra outputs over the photos; returns each one's range.</summary>
    private static Dictionary<string, (float Min, float Max)> Calibrate(
        ModelProto model, ModelDescription metadata, IReadOnlyList<string> tensors, IReadOnlyList<byte[]> photos, QuantizationSettings settings)
    {
        var probe = model.Clone();
        foreach (var tensor in tensors)
        {
            probe.Graph.Output.Add(new ValueInfoProto { Name = tensor, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)DataType.Float } } });
        }

        using var options = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_BASIC,
            IntraOpNumThreads = settings.Threads > 0 ? settings.Threads : Environment.ProcessorCount,
        };
        using var session = new InferenceSession(probe.ToByteArray(), options);
        var minMax = tensors.ToDictionary(t => t, _ => (Min: float.MaxValue, Max: float.MinValue));
        Pass(session, metadata, tensors, photos, settings.BatchSize, (tensor, values) =>
        {
            var (min, max) = minMax[tensor];
            foreach (var v in values)
            {
                min = Math.Min(min, v);
                max = Math.Max(max, v);
            }

            minMax[tensor] = (min, max);
        });
        if (settings.Method == CalibrationMethod.MinMax)
        {
            return minMax;
        }

        // Second pass: a histogram over each tensor's full range, then the values at the two tails' percentiles.
        const int Bins = 4096;
        var histograms = tensors.ToDictionary(t => t, _ => new long[Bins]);
        Pass(session, metadata, tensors, photos, settings.BatchSize, (tensor, values) =>
        {
            var (min, max) = minMax[tensor];
            var histogram = histograms[tensor];
            var width = Math.Max(max - min, 1e-12f) / Bins;
            foreach (var v in values)
            {
                histogram[Math.Clamp((int)((v - min) / width), 0, Bins - 1)]++;
            }
        });
        return tensors.ToDictionary(t => t, t =>
        {
            var (min, max) = minMax[t];
            var histogram = histograms[t];
            var total = histogram.Sum();
            var width = Math.Max(max - min, 1e-12f) / Bins;
            var tail = (long)Math.Floor(total * (100 - settings.Percentile) / 100);
            int low = 0, high = Bins - 1;
            for (long seen = histogram[low]; seen <= tail && low < Bins - 1; seen += histogram[++low])
            {
            }

            for (long seen = histogram[high]; seen <= tail && high > 0; seen += histogram[--high])
            {
            }

            return (min + (low * width), min + ((high + 1) * width));
        });
    }

    private static void Pass(InferenceSession session, ModelDescription metadata, IReadOnlyList<string> tensors, IReadOnlyList<byte[]> photos, int batchSize, Action<string, ReadOnlySpan<float>> observe)
    {
        var plane = metadata.InputHeight * metadata.InputWidth * 3;
        using var runOptions = new RunOptions();
        for (var first = 0; first < photos.Count; first += batchSize)
        {
            var count = Math.Min(batchSize, photos.Count - first);
            var pixels = new byte[count * plane];   // [n, H, W, 3] BGR
            for (var i = 0; i < count; i++)
            {
                photos[first + i].CopyTo(pixels, i * plane);
            }

            using var input = OrtValue.CreateTensorValueFromMemory(pixels, [count, metadata.InputHeight, metadata.InputWidth, 3]);
            using var outputs = session.Run(runOptions, [ModelContract.InputName], [input], tensors);
            for (var i = 0; i < tensors.Count; i++)
            {
                observe(tensors[i], outputs[i].GetTensorDataAsSpan<float>());
            }
        }
    }

    /// <summary>Edits a graph in place: node list, initializers by name, producers and consumers of each value.</summary>
    private sealed class GraphEditor(GraphProto graph)
    {
        private readonly List<NodeProto> nodes = [.. graph.Node];
        private readonly Dictionary<string, TensorProto> initializers = graph.Initializer.ToDictionary(t => t.Name);
        private readonly HashSet<string> outputs = [.. graph.Output.Select(o => o.Name)];
        private readonly Dictionary<string, List<NodeProto>> inserted = [];

        public bool IsInitializer(string name) => initializers.ContainsKey(name);

        public NodeProto? Producer(string value) => nodes.FirstOrDefault(n => n.Output.Contains(value));

        /// <summary>The nodes the first global average pool (the head) depends on; the whole graph when there is none.</summary>
        public List<NodeProto> Backbone()
        {
            var pool = nodes.FirstOrDefault(n => n.OpType == "GlobalAveragePool");
            if (pool is null)
            {
                return nodes;
            }

            var needed = new HashSet<NodeProto>();
            var pending = new Stack<string>([pool.Input[0]]);
            while (pending.TryPop(out var value))
            {
                if (Producer(value) is { } producer && needed.Add(producer))
                {
                    foreach (var input in producer.Input)
                    {
                        pending.Push(input);
                    }
                }
            }

            return [.. nodes.Where(needed.Contains)];
        }

        /// <summary>Conv -> BatchNormalization becomes one Conv: w' = w * g / sqrt(v + eps), b' = (b - m) * g / sqrt(v + eps) + beta.</summary>
        public void FoldBatchNorms()
        {
            foreach (var bn in nodes.Where(n => n.OpType == "BatchNormalization").ToList())
            {
                if (Producer(bn.Input[0]) is not { OpType: "Conv" } conv || Consumers(conv.Output[0]).Count != 1 || outputs.Contains(conv.Output[0])
                    || !bn.Input.Skip(1).All(IsInitializer) || !IsInitializer(conv.Input[1]))
                {
                    continue;
                }

                var epsilon = bn.Attribute.FirstOrDefault(a => a.Name == "epsilon")?.F ?? 1e-5f;
                var (gamma, beta, mean, variance) = (Floats(bn.Input[1]), Floats(bn.Input[2]), Floats(bn.Input[3]), Floats(bn.Input[4]));
                var weight = initializers[conv.Input[1]];
                var w = Floats(conv.Input[1]);                                          // [O, I, kh, kw]
                var bias = conv.Input.Count > 2 ? Floats(conv.Input[2]) : new float[gamma.Length];
                var perChannel = w.Length / gamma.Length;
                for (var o = 0; o < gamma.Length; o++)
                {
                    var factor = gamma[o] / MathF.Sqrt(variance[o] + epsilon);
                    for (var k = o * perChannel; k < (o + 1) * perChannel; k++)
                    {
                        w[k] *= factor;
                    }

                    bias[o] = ((bias[o] - mean[o]) * factor) + beta[o];
                }

                var weightName = AddFloat(conv.Input[1] + "_bnfolded", weight.Dims, w);
                var biasName = AddFloat(conv.Input[1] + "_bnfolded_bias", [gamma.Length], bias);
                var inputs = new[] { conv.Input[0], weightName, biasName };
                conv.Input.Clear();
                conv.Input.AddRange(inputs);
                conv.Output[0] = bn.Output[0];
                nodes.Remove(bn);
            }
        }

        /// <summary>
        /// A constant zero Pad of H and W only, read by one Conv, becomes that Conv's pads; read by one MaxPool, too,
        /// when a ReLU made its input (values >= 0: a zero border then equals MaxPool's -inf border).
        /// </summary>
        public void FoldPads()
        {
            foreach (var pad in nodes.Where(n => n.OpType == "Pad").ToList())
            {
                var mode = pad.Attribute.FirstOrDefault(a => a.Name == "mode")?.S.ToStringUtf8() ?? "constant";
                var constantZero = pad.Input.Count < 3 || string.IsNullOrEmpty(pad.Input[2]) || (IsInitializer(pad.Input[2]) && Floats(pad.Input[2]).All(v => v == 0));
                if (mode != "constant" || !constantZero || pad.Input.Count < 2 || !IsInitializer(pad.Input[1]) || outputs.Contains(pad.Output[0]))
                {
                    continue;
                }

                var p = initializers[pad.Input[1]].Int64Data.ToArray();   // [begin N, C, H, W, end N, C, H, W]
                var consumers = Consumers(pad.Output[0]);
                if (p.Length != 8 || p[0] != 0 || p[1] != 0 || p[4] != 0 || p[5] != 0 || consumers.Count != 1)
                {
                    continue;
                }

                var next = consumers[0];
                var foldable = next.OpType == "Conv" || (next.OpType == "MaxPool" && Producer(pad.Input[0]) is { OpType: "Relu" });
                if (!foldable || next.Attribute.Any(a => a.Name == "auto_pad" && a.S.ToStringUtf8() is not ("" or "NOTSET")))
                {
                    continue;
                }

                var pads = next.Attribute.FirstOrDefault(a => a.Name == "pads");
                var old = pads?.Ints.ToArray() ?? [0, 0, 0, 0];                     // [begin H, W, end H, W]
                long[] merged = [old[0] + p[2], old[1] + p[3], old[2] + p[6], old[3] + p[7]];
                if (pads is not null)
                {
                    next.Attribute.Remove(pads);
                }

                next.Attribute.Add(OnnxGraphBuilder.IntsAttribute("pads", merged));
                next.Input[0] = pad.Input[0];
                nodes.Remove(pad);
            }
        }

        /// <summary>QuantizeLinear -> DequantizeLinear on each value, right after the node that makes it; every reader takes the dequantized copy.</summary>
        public void InsertQdq(IReadOnlyDictionary<string, (float Scale, byte ZeroPoint)> parameters)
        {
            foreach (var (value, (scale, zeroPoint)) in parameters)
            {
                var readers = Consumers(value);
                var safe = value.Replace(':', '_');
                var scaleName = AddTensor(safe + "_scale", [], DataType.Float, BitConverter.GetBytes(scale));
                var zeroName = AddTensor(safe + "_zero_point", [], DataType.Uint8, [zeroPoint]);
                var quantize = new NodeProto { OpType = "QuantizeLinear", Name = safe + "_quantize" };
                quantize.Input.AddRange([value, scaleName, zeroName]);
                quantize.Output.Add(safe + "_quantized");
                var dequantize = new NodeProto { OpType = "DequantizeLinear", Name = safe + "_dequantize" };
                dequantize.Input.AddRange([quantize.Output[0], scaleName, zeroName]);
                dequantize.Output.Add(safe + "_dequantized");
                foreach (var reader in readers)
                {
                    for (var i = 0; i < reader.Input.Count; i++)
                    {
                        if (reader.Input[i] == value)
                        {
                            reader.Input[i] = dequantize.Output[0];
                        }
                    }
                }

                InsertAfter(value, quantize, dequantize);
            }
        }

        /// <summary>Weight: int8 per output channel, symmetric (scale max|w| / 127, zero point 0). Bias: int32 at input scale x weight scale.</summary>
        public void QuantizeConvWeights(NodeProto conv, float inputScale)
        {
            var weight = initializers[conv.Input[1]];
            var w = Floats(conv.Input[1]);                                              // [O, I, kh, kw]
            var channels = (int)weight.Dims[0];
            var perChannel = w.Length / channels;
            var scales = new float[channels];
            var q = new sbyte[w.Length];
            for (var o = 0; o < channels; o++)
            {
                var span = w.AsSpan(o * perChannel, perChannel);
                var max = 0f;
                foreach (var v in span)
                {
                    max = Math.Max(max, Math.Abs(v));
                }

                scales[o] = max > 0 ? max / 127f : 1f;
                for (var k = 0; k < perChannel; k++)
                {
                    q[(o * perChannel) + k] = (sbyte)Math.Clamp(MathF.Round(span[k] / scales[o]), -127, 127);
                }
            }

            var prefix = conv.Input[1];
            var scaleName = AddFloat(prefix + "_scale", [channels], scales);
            var quantizedWeight = AddTensor(prefix + "_int8", weight.Dims, DataType.Int8, MemoryMarshal.AsBytes(q.AsSpan()).ToArray());
            var zeroName = AddTensor(prefix + "_zero_point", [channels], DataType.Int8, new byte[channels]);
            conv.Input[1] = AddDequantize(prefix, [quantizedWeight, scaleName, zeroName]);
            if (conv.Input.Count > 2 && IsInitializer(conv.Input[2]))
            {
                var bias = Floats(conv.Input[2]);
                var biasScales = scales.Select(s => s * inputScale).ToArray();
                var biasQ = bias.Select((b, o) => (int)Math.Clamp(Math.Round(b / biasScales[o]), int.MinValue + 1, int.MaxValue)).ToArray();
                var biasName = conv.Input[2];
                var biasScale = AddFloat(biasName + "_scale", [channels], biasScales);
                var biasInt = AddTensor(biasName + "_int32", [channels], DataType.Int32, MemoryMarshal.AsBytes(biasQ.AsSpan()).ToArray());
                var biasZero = AddTensor(biasName + "_zero_point", [channels], DataType.Int32, new byte[channels * sizeof(int)]);
                conv.Input[2] = AddDequantize(biasName, [biasInt, biasScale, biasZero]);
            }
        }

        /// <summary>Writes the node list back (in topological order) and drops initializers nothing reads any more.</summary>
        public void Commit()
        {
            var ordered = new List<NodeProto>();
            if (inserted.TryGetValue(string.Empty, out var first))
            {
                ordered.AddRange(first);
            }

            foreach (var node in nodes)
            {
                ordered.Add(node);
                foreach (var output in node.Output)
                {
                    if (inserted.TryGetValue(output, out var after))
                    {
                        ordered.AddRange(after);
                    }
                }
            }

            var read = ordered.SelectMany(n => n.Input).ToHashSet();
            graph.Node.Clear();
            graph.Node.AddRange(ordered);
            var kept = initializers.Values.Where(t => read.Contains(t.Name)).ToList();
            graph.Initializer.Clear();
            graph.Initializer.AddRange(kept);
        }

        private string AddDequantize(string prefix, string[] inputs)
        {
            var node = new NodeProto { OpType = "DequantizeLinear", Name = prefix.Replace(':', '_') + "_dequantize" };
            node.Input.AddRange(inputs);
            node.Output.Add(node.Name + "d");
            node.Attribute.Add(OnnxGraphBuilder.IntAttribute("axis", 0));
            // Constant-only: it goes first so it precedes its reader whatever the order.
            if (!inserted.TryGetValue(string.Empty, out var list))
            {
                inserted[string.Empty] = list = [];
            }

            list.Add(node);
            return node.Output[0];
        }

        private void InsertAfter(string value, params NodeProto[] added)
        {
            // A graph input has no producer: its nodes go first.
            var key = Producer(value) is null ? string.Empty : value;
            if (!inserted.TryGetValue(key, out var list))
            {
                inserted[key] = list = [];
            }

            list.AddRange(added);
        }

        private List<NodeProto> Consumers(string value) =>
            [.. nodes.Concat(inserted.Values.SelectMany(l => l)).Where(n => n.Input.Contains(value))];

        private float[] Floats(string name)
        {
            var tensor = initializers[name];
            if (tensor.DataType != (int)DataType.Float)
            {
                throw new NotSupportedException($"Initializer '{name}' is {(DataType)tensor.DataType}, only float is quantized.");
            }

            return tensor.RawData.IsEmpty ? [.. tensor.FloatData] : MemoryMarshal.Cast<byte, float>(tensor.RawData.Span).ToArray();
        }

        private string AddFloat(string name, IEnumerable<long> dims, float[] values) =>
            AddTensor(name, dims, DataType.Float, MemoryMarshal.AsBytes(values.AsSpan()).ToArray());

        private string AddTensor(string name, IEnumerable<long> dims, DataType type, byte[] raw)
        {
            var unique = name;
            for (var n = 1; initializers.ContainsKey(unique); n++)
            {
                unique = $"{name}_{n}";
            }

            var tensor = new TensorProto { Name = unique, DataType = (int)type, RawData = ByteString.CopyFrom(raw) };
            tensor.Dims.AddRange(dims);
            initializers[unique] = tensor;
            return unique;
        }
    }
}
