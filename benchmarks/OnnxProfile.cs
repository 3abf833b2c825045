using System.Globalization;
using System.Text.Json;

namespace DogsVsCats.Vision.Benchmarks;

/// <summary>
/// Where ONNX Runtime spends one run of a model, from its own profiler: each operator type's share of the time, and the
/// arithmetic rate of the convolutions (2 x multiply-adds per second). Each node counts with its median time over the
/// profiled runs, so a first run's allocations do not weigh.
/// </summary>
/// <param name="Shares">Operator type and its share of the summed node times, largest first.</param>
/// <param name="ConvolutionGflop">Floating-point operations of all convolutions for one run.</param>
/// <param name="ConvolutionGflopPerSecond">All convolutions' operations over all convolutions' time.</param>
/// <param name="SlowestConvolution">The lowest rate of any one convolution (GFLOP/s).</param>
/// <param name="SlowestConvolutionShare">The slowest convolution's share of all convolutions' time.</param>
/// <param name="FastestConvolution">The highest rate of any one convolution (GFLOP/s).</param>
internal sealed record OnnxProfile(
    IReadOnlyList<(string Operator, double Share)> Shares,
    double ConvolutionGflop,
    double ConvolutionGflopPerSecond,
    double SlowestConvolution,
    double SlowestConvolutionShare,
    double FastestConvolution)
{
    /// <summary>Reads the JSON trace ONNX Runtime's profiler wrote (SessionOptions.EnableProfiling).</summary>
    public static OnnxProfile Read(string path)
    {
        using var stream = File.OpenRead(path);
        using var trace = JsonDocument.Parse(stream);
        var nodes = new Dictionary<string, (string Op, double Flop, List<double> Microseconds)>();
        foreach (var e in trace.RootElement.EnumerateArray())
        {
            if (!e.TryGetProperty("cat", out var category) || category.GetString() != "Node"
                || e.GetProperty("name").GetString() is not { } name || !name.EndsWith("_kernel_time", StringComparison.Ordinal))
            {
                continue;
            }

            var args = e.GetProperty("args");
            var op = args.GetProperty("op_name").GetString() ?? "?";
            if (!nodes.TryGetValue(name, out var node))
            {
                node = (op, ConvolutionFlop(op, args), []);
                nodes[name] = node;
            }

            node.Microseconds.Add(e.GetProperty("dur").GetDouble());
        }

        if (nodes.Count == 0)
        {
            throw new InvalidDataException($"{path} holds no node timings: was the session profiled and run?");
        }

        var timed = nodes.Values.Select(n => (n.Op, n.Flop, Seconds: Statistics.Median(n.Microseconds) / 1e6)).ToList();
        var total = timed.Sum(n => n.Seconds);
        var shares = timed.GroupBy(n => n.Op).Select(g => (g.Key, g.Sum(n => n.Seconds) / total)).OrderByDescending(s => s.Item2).ToList();
        var convolutions = timed.Where(n => n.Flop > 0 && n.Seconds > 0).ToList();
        if (convolutions.Count == 0)
        {
            return new OnnxProfile(shares, 0, 0, 0, 0, 0);
        }

        var slowest = convolutions.MinBy(n => n.Flop / n.Seconds);
        var flop = convolutions.Sum(n => n.Flop);
        var seconds = convolutions.Sum(n => n.Seconds);
        return new OnnxProfile(
            shares,
            flop / 1e9,
            flop / seconds / 1e9,
            slowest.Flop / slowest.Seconds / 1e9,
            slowest.Seconds / seconds,
            convolutions.Max(n => n.Flop / n.Seconds) / 1e9);
    }

    /// <summary>One line: time shares of the operators above 1 %, and the convolutions' rate.</summary>
    public string Describe(int batch) => string.Create(CultureInfo.InvariantCulture, $"""
        {string.Join(", ", Shares.Where(s => s.Share >= 0.01).Select(s => $"{s.Operator} {s.Share * 100:F1} %"))} of the time; convolutions {ConvolutionGflop / batch:F2} GFLOP an image at {ConvolutionGflopPerSecond:F0} GFLOP/s (each one {SlowestConvolution:F0}-{FastestConvolution:F0}; the slowest takes {SlowestConvolutionShare * 100:F1} % of their time)
        """);

    /// <summary>2 x output elements x (input channels per group x kernel area) for a convolution; 0 for other operators.</summary>
    private static double ConvolutionFlop(string op, JsonElement args)
    {
        if (op is not ("Conv" or "FusedConv") || !args.TryGetProperty("input_type_shape", out var inputs) || inputs.GetArrayLength() < 2
            || !args.TryGetProperty("output_type_shape", out var outputs) || outputs.GetArrayLength() < 1)
        {
            return 0;
        }

        var weight = Dims(inputs[1]);
        if (weight.Count < 3)
        {
            return 0;
        }

        var perOutput = weight.Skip(1).Aggregate(1.0, (a, b) => a * b);
        return 2 * Dims(outputs[0]).Aggregate(1.0, (a, b) => a * b) * perOutput;
    }

    /// <summary>The dims of one {"float": [..]} entry.</summary>
    private static List<long> Dims(JsonElement typed)
    {
        foreach (var property in typed.EnumerateObject())
        {
            return [.. property.Value.EnumerateArray().Select(d => d.GetInt64())];
        }

        return [];
    }
}
