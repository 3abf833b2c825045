using DogsVsCats.Vision.Shared;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace DogsVsCats.Vision.Trainer.Export;

/// <summary>
/// The range statistics of int8 calibration: runs the float model over the calibration photos with the activations to
/// quantize as extra outputs, and takes each one's range (min/max, or percentiles of a histogram), then its uint8 scale
/// and zero point.
/// </summary>
internal static class ActivationRanges
{
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
    public static Dictionary<string, (float Min, float Max)> Measure(
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
}
