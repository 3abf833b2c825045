using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using DogsVsCats.Vision.Realtime.Inference;
using Microsoft.AspNetCore.Http;

namespace DogsVsCats.Vision.Realtime.Serving;

/// <summary>
/// Writes an Open Inference Protocol infer response: the requested outputs as JSON data or, where asked, as binary
/// data after the JSON header (its length in Inference-Header-Content-Length), as tritonclient.http reads them.
/// </summary>
internal static class InferResponse
{
    /// <param name="predictions">One per image, in request order.</param>
    /// <param name="cam">[N, classes, h, w] when the request asked for 'cam'.</param>
    public static async Task WriteAsync(HttpResponse response, string modelName, string? id, IReadOnlyList<RequestedOutput> outputs, IReadOnlyList<Prediction> predictions, double minConfidence, float[]? cam, int camHeight, int camWidth)
    {
        var json = new ArrayBufferWriter<byte>(1024);
        var binary = new ArrayBufferWriter<byte>();
        var classes = predictions[0].Labels.Count;
        using (var writer = new Utf8JsonWriter(json))
        {
            writer.WriteStartObject();
            writer.WriteString("model_name", modelName);
            writer.WriteString("model_version", ServeEndpoints.ModelVersion);
            if (id is not null)
            {
                writer.WriteString("id", id);
            }

            writer.WriteStartArray("outputs");
            foreach (var output in outputs)
            {
                writer.WriteStartObject();
                writer.WriteString("name", output.Name);
                switch (output)
                {
                    case { Name: InferRequest.ProbabilitiesOutput, Classification: 0 }:
                        WriteFloats(writer, binary, output.Binary, [predictions.Count, classes], predictions.SelectMany(p => p.Probabilities).ToArray());
                        break;
                    case { Name: InferRequest.ProbabilitiesOutput }:
                        WriteStrings(writer, binary, output.Binary, [predictions.Count, output.Classification], predictions.SelectMany(p => TopClasses(p, output.Classification)).ToArray());
                        break;
                    case { Name: InferRequest.LabelOutput }:
                        WriteStrings(writer, binary, output.Binary, [predictions.Count], predictions.Select(p => p.LabelAt(minConfidence)).ToArray());
                        break;
                    default:
                        WriteFloats(writer, binary, output.Binary, [predictions.Count, classes, camHeight, camWidth], cam ?? throw new InvalidOperationException("The activation maps were not computed."));
                        break;
                }

                writer.WriteEndObject();
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        if (binary.WrittenCount > 0)
        {
            response.Headers[InferRequest.HeaderLength] = json.WrittenCount.ToString(CultureInfo.InvariantCulture);
            response.ContentType = "application/octet-stream";
        }
        else
        {
            response.ContentType = "application/json";
        }

        response.ContentLength = json.WrittenCount + binary.WrittenCount;
        await response.Body.WriteAsync(json.WrittenMemory);
        if (binary.WrittenCount > 0)
        {
            await response.Body.WriteAsync(binary.WrittenMemory);
        }
    }

    /// <summary>The classification extension's strings for one image: "score:index:label", best first (scores as C's %f).</summary>
    public static IEnumerable<string> TopClasses(Prediction prediction, int count)
    {
        return prediction.Probabilities.Select((p, i) => (p, i))
            .OrderByDescending(x => x.p).ThenBy(x => x.i).Take(count)
            .Select(x => string.Create(CultureInfo.InvariantCulture, $"{x.p:F6}:{x.i}:{prediction.Labels[x.i]}"));
    }

    private static void WriteFloats(Utf8JsonWriter writer, ArrayBufferWriter<byte> binary, bool asBinary, int[] shape, float[] values)
    {
        writer.WriteString("datatype", "FP32");
        WriteShape(writer, shape);
        if (asBinary)
        {
            var bytes = MemoryMarshal.AsBytes(values.AsSpan());
            if (!BitConverter.IsLittleEndian)
            {
                throw new PlatformNotSupportedException("Binary tensor data is little-endian.");
            }

            bytes.CopyTo(binary.GetSpan(bytes.Length));
            binary.Advance(bytes.Length);
            WriteBinarySize(writer, bytes.Length);
            return;
        }

        writer.WriteStartArray("data");
        foreach (var value in values)
        {
            writer.WriteNumberValue(value);
        }

        writer.WriteEndArray();
    }

    private static void WriteStrings(Utf8JsonWriter writer, ArrayBufferWriter<byte> binary, bool asBinary, int[] shape, string[] values)
    {
        writer.WriteString("datatype", "BYTES");
        WriteShape(writer, shape);
        if (asBinary)
        {
            var size = 0;
            foreach (var value in values)
            {
                var length = Encoding.UTF8.GetByteCount(value);
                var span = binary.GetSpan(4 + length);
                BinaryPrimitives.WriteUInt32LittleEndian(span, (uint)length);
                Encoding.UTF8.GetBytes(value, span[4..]);
                binary.Advance(4 + length);
                size += 4 + length;
            }

            WriteBinarySize(writer, size);
            return;
        }

        writer.WriteStartArray("data");
        foreach (var value in values)
        {
            writer.WriteStringValue(value);
        }

        writer.WriteEndArray();
    }

    private static void WriteShape(Utf8JsonWriter writer, int[] shape)
    {
        writer.WriteStartArray("shape");
        foreach (var dimension in shape)
        {
            writer.WriteNumberValue(dimension);
        }

        writer.WriteEndArray();
    }

    private static void WriteBinarySize(Utf8JsonWriter writer, int size)
    {
        writer.WriteStartObject("parameters");
        writer.WriteNumber("binary_data_size", size);
        writer.WriteEndObject();
    }
}
