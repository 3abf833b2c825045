using System.Runtime.InteropServices;
using DogsVsCats.Vision.Trainer.Onnx;
using Google.Protobuf;
using Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace DogsVsCats.Vision.Trainer.Export;

/// <summary>Edits a graph in place: node list, initializers by name, producers and consumers of each value.</summary>
internal sealed class QdqGraphEditor(GraphProto graph)
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
