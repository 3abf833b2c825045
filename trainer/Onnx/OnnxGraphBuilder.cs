using Google.Protobuf;
using Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DogsVsCats.Vision.Trainer.Onnx;

/// <summary>A module that writes its own forward pass as ONNX nodes (composites: blocks, backbones, heads).</summary>
internal interface IOnnxExportable
{
    /// <summary>Adds this module's nodes reading <paramref name="input"/>; returns the name of its output.</summary>
    string ExportOnnx(OnnxGraphBuilder graph, string input);
}

/// <summary>
/// Builds an ONNX graph from TorchSharp modules. Leaf modules (convolution, batch norm, ReLU, max pool, zero
/// padding, global average pool, dropout, linear, flatten) and Sequential are translated here; composite modules
/// describe their data flow through <see cref="IOnnxExportable"/> using the same calls, so the export follows the
/// network the trainer actually ran.
/// </summary>
internal sealed class OnnxGraphBuilder
{
    public const int Opset = 13;

    private readonly Dictionary<string, int> counters = [];

    public GraphProto Graph { get; } = new() { Name = "dogsvscats" };

    /// <summary>Translates <paramref name="module"/> (eval-mode semantics) reading <paramref name="input"/>.</summary>
    public string Module(nn.Module module, string input) => module switch
    {
        IOnnxExportable composite => composite.ExportOnnx(this, input),
        Sequential sequential => sequential.children().Aggregate(input, (x, child) => Module(child, x)),
        Conv2d conv => Conv(conv, input),
        BatchNorm2d bn => BatchNorm(bn, input),
        ReLU => Node("Relu", [input], "relu"),
        MaxPool2d pool => MaxPool(pool, input),
        ZeroPad2d pad => Pad(pad, input),
        AdaptiveAvgPool2d pool => GlobalAveragePool(pool, input),
        Dropout => input,   // identity at inference
        Linear linear => Gemm(linear, input),
        Flatten flatten => Flatten(flatten, input),
        _ => throw new NotSupportedException($"No ONNX export for module '{module.GetName()}' ({module.GetType().Name}); implement {nameof(IOnnxExportable)} on it or add it to {nameof(OnnxGraphBuilder)}."),
    };

    public string Add(string a, string b) => Node("Add", [a, b], "add");

    public string Sub(string a, string b) => Node("Sub", [a, b], "sub");

    public string Mul(string a, string b) => Node("Mul", [a, b], "mul");

    /// <summary>Picks <paramref name="indices"/> along <paramref name="axis"/> (e.g. channels 2, 1, 0: BGR to RGB).</summary>
    public string Gather(string input, long axis, long[] indices) =>
        Node("Gather", [input, Int64Initializer("indices", indices)], "gather", IntAttribute("axis", axis));

    public string Concat(string[] inputs, long axis) => Node("Concat", inputs, "concat", IntAttribute("axis", axis));

    /// <summary>Square average pooling with symmetric zero padding, as PyTorch's avg_pool2d(kernel, stride, padding).</summary>
    public string AveragePool(string input, long kernel, long stride, long padding, bool countIncludePad) => Node(
        "AveragePool", [input], "avgpool",
        IntsAttribute("kernel_shape", kernel, kernel),
        IntsAttribute("strides", stride, stride),
        IntsAttribute("pads", padding, padding, padding, padding),
        IntAttribute("count_include_pad", countIncludePad ? 1 : 0));

    /// <summary>Reshape to <paramref name="shape"/> (-1: whatever is left).</summary>
    public string Reshape(string input, long[] shape) => Node("Reshape", [input, Int64Initializer("shape", shape)], "reshape");

    /// <summary>The mean over <paramref name="axis"/>, which goes.</summary>
    public string ReduceMean(string input, long axis) =>
        Node("ReduceMean", [input], "reducemean", IntsAttribute("axes", axis), IntAttribute("keepdims", 0));

    public string Softmax(string input, int axis) => Node("Softmax", [input], "softmax", IntAttribute("axis", axis));

    public string Flatten(string input, int axis) => Node("Flatten", [input], "flatten", IntAttribute("axis", axis));

    public string Cast(string input, TensorProto.Types.DataType to) => Node("Cast", [input], "cast", IntAttribute("to", (long)to));

    public string Transpose(string input, params long[] perm) => Node("Transpose", [input], "transpose", IntsAttribute("perm", perm));

    /// <summary>A 1x1 convolution with the given weight [out, in, 1, 1] and no bias.</summary>
    public string PointwiseConv(string input, Tensor weight, string name) =>
        Node("Conv", [input, Initializer(name, weight)], "conv", IntsAttribute("kernel_shape", 1, 1));

    /// <summary>Adds a float32 initializer holding a copy of <paramref name="value"/>; returns its unique name.</summary>
    public string Initializer(string name, Tensor value)
    {
        using var scope = NewDisposeScope();
        var host = value.detach().cpu().to_type(ScalarType.Float32).contiguous();
        var proto = new TensorProto { Name = UniqueName(name), DataType = (int)TensorProto.Types.DataType.Float };
        proto.Dims.AddRange(host.shape);
        proto.RawData = ByteString.CopyFrom(System.Runtime.InteropServices.MemoryMarshal.AsBytes(host.data<float>().ToArray().AsSpan()));
        Graph.Initializer.Add(proto);
        return proto.Name;
    }

    public string Int64Initializer(string name, long[] values)
    {
        var proto = new TensorProto { Name = UniqueName(name), DataType = (int)TensorProto.Types.DataType.Int64 };
        proto.Dims.Add(values.Length);
        proto.Int64Data.AddRange(values);
        Graph.Initializer.Add(proto);
        return proto.Name;
    }

    /// <summary>Adds a node with one output; returns the output's name.</summary>
    public string Node(string op, string[] inputs, string name, params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = op, Name = UniqueName(name) };
        node.Input.AddRange(inputs);
        node.Output.Add(node.Name + ":0");
        node.Attribute.AddRange(attributes);
        Graph.Node.Add(node);
        return node.Output[0];
    }

    /// <summary>Renames the value <paramref name="from"/> to the graph output name <paramref name="to"/> (Identity).</summary>
    public void Output(string from, string to, TensorProto.Types.DataType type, params object[] dims)
    {
        var node = new NodeProto { OpType = "Identity", Name = UniqueName(to) };
        node.Input.Add(from);
        node.Output.Add(to);
        Graph.Node.Add(node);
        Graph.Output.Add(ValueInfo(to, type, dims));
    }

    /// <summary>A model of the graph as built so far: IR version 7, the default domain at <see cref="Opset"/>.</summary>
    public ModelProto ToModel()
    {
        var model = new ModelProto { IrVersion = 7, Graph = Graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = string.Empty, Version = Opset });
        return model;
    }

    /// <summary>A graph input; dims are numbers or names (dynamic axes).</summary>
    public void Input(string name, TensorProto.Types.DataType type, params object[] dims) => Graph.Input.Add(ValueInfo(name, type, dims));

    public static AttributeProto IntAttribute(string name, long value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    public static AttributeProto FloatAttribute(string name, float value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

    public static AttributeProto IntsAttribute(string name, params long[] values)
    {
        var attribute = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        attribute.Ints.AddRange(values);
        return attribute;
    }

    private static ValueInfoProto ValueInfo(string name, TensorProto.Types.DataType type, object[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var dim in dims)
        {
            shape.Dim.Add(dim is string param
                ? new TensorShapeProto.Types.Dimension { DimParam = param }
                : new TensorShapeProto.Types.Dimension { DimValue = Convert.ToInt64(dim, System.Globalization.CultureInfo.InvariantCulture) });
        }

        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } },
        };
    }

    private string UniqueName(string name)
    {
        var n = counters.GetValueOrDefault(name);
        counters[name] = n + 1;
        return n == 0 ? name : $"{name}_{n}";
    }

    private string Conv(Conv2d conv, string input)
    {
        if (conv.padding_type is not null || conv.padding_mode != PaddingModes.Zeros || conv.transposed)
        {
            throw new NotSupportedException($"Conv2d '{conv.GetName()}': only explicit zero padding exports (got {conv.padding_type?.ToString() ?? conv.padding_mode.ToString()}).");
        }

        var inputs = new List<string> { input, Initializer("conv.weight", conv.weight!) };
        if (conv.bias is not null)
        {
            inputs.Add(Initializer("conv.bias", conv.bias));
        }

        var pads = conv.padding ?? [0, 0];
        return Node(
            "Conv", [.. inputs], "conv",
            IntsAttribute("kernel_shape", conv.kernel_size),
            IntsAttribute("strides", conv.stride),
            IntsAttribute("dilations", conv.dilation),
            IntsAttribute("pads", pads[0], pads[1], pads[0], pads[1]),
            IntAttribute("group", conv.groups));
    }

    private string BatchNorm(BatchNorm2d bn, string input) => Node(
        "BatchNormalization",
        [input, Initializer("bn.scale", bn.weight!), Initializer("bn.bias", bn.bias!), Initializer("bn.mean", bn.running_mean!), Initializer("bn.var", bn.running_var!)],
        "bn",
        FloatAttribute("epsilon", (float)bn.eps));

    private string MaxPool(MaxPool2d pool, string input)
    {
        if (pool.dilation is { } dilation && dilation.Any(d => d != 1))
        {
            throw new NotSupportedException($"MaxPool2d '{pool.GetName()}': dilation is not exported.");
        }

        var kernel = pool.kernel_size;
        var stride = pool.stride ?? kernel;
        var pads = pool.padding ?? [0, 0];
        return Node(
            "MaxPool", [input], "maxpool",
            IntsAttribute("kernel_shape", kernel),
            IntsAttribute("strides", stride),
            IntsAttribute("pads", pads[0], pads[1], pads[0], pads[1]),
            IntAttribute("ceil_mode", pool.ceil_mode ? 1 : 0));
    }

    private string Pad(ZeroPad2d pad, string input)
    {
        // TorchSharp/PyTorch order: (left, right, top, bottom). ONNX: [begin N, C, H, W, end N, C, H, W].
        var p = pad.padding.Length == 1 ? [pad.padding[0], pad.padding[0], pad.padding[0], pad.padding[0]] : pad.padding;
        var pads = Int64Initializer("pads", [0, 0, p[2], p[0], 0, 0, p[3], p[1]]);
        return Node("Pad", [input, pads], "pad", new AttributeProto { Name = "mode", Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8("constant") });
    }

    private string GlobalAveragePool(AdaptiveAvgPool2d pool, string input)
    {
        if (pool.output_size.Any(s => s != 1))
        {
            throw new NotSupportedException($"AdaptiveAvgPool2d '{pool.GetName()}': only output size 1 (global average pooling) exports.");
        }

        return Node("GlobalAveragePool", [input], "gap");
    }

    private string Gemm(Linear linear, string input)
    {
        var inputs = new List<string> { input, Initializer("fc.weight", linear.weight!) };
        if (linear.bias is not null)
        {
            inputs.Add(Initializer("fc.bias", linear.bias));
        }

        return Node("Gemm", [.. inputs], "gemm", IntAttribute("transB", 1));
    }

    private string Flatten(Flatten flatten, string input)
    {
        if (flatten.start_dim != 1 || flatten.end_dim != -1)
        {
            throw new NotSupportedException($"Flatten '{flatten.GetName()}': only flatten(1) exports.");
        }

        return Flatten(input, 1);
    }
}
