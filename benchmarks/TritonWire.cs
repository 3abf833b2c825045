using System.Buffers.Binary;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace DogsVsCats.Vision.Benchmarks;

/// <summary>
/// NVIDIA tritonclient.http's wire format, written as its Python source does (tritonclient/http/_utils.py
/// _get_inference_request and _infer_result.py InferResult): a JSON header made by json.dumps, each binary input's
/// bytes after it, its length in Inference-Header-Content-Length; with no outputs named, the request parameter
/// binary_data_output is true. Responses are split the same way, each binary output found by its binary_data_size.
/// The protocol tests and bench serve's load generator both speak it from here.
/// </summary>
internal static class TritonWire
{
    public const string HeaderLength = "Inference-Header-Content-Length";

    /// <summary>A request as InferInput.set_data_from_numpy(array) (binary_data=True, the default) builds it.</summary>
    public static HttpContent Binary(string datatype, int[] shape, byte[] raw, string? id = null, IEnumerable<(string Name, bool Binary, int ClassCount)>? outputs = null) =>
        Content(BinaryBody(datatype, shape, raw, id, outputs));

    /// <summary>
    /// A fresh content over a body made once: a load generator sends the same bytes many times, each send with a
    /// content of its own (one content is not for requests in flight together).
    /// </summary>
    public static HttpContent Content(WireBody body)
    {
        var content = new ByteArrayContent(body.Bytes);
        content.Headers.Add(HeaderLength, body.HeaderLength.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return content;
    }

    /// <summary>The body of <see cref="Binary"/>: the JSON header and the input's bytes, with the header's length.</summary>
    public static WireBody BinaryBody(string datatype, int[] shape, byte[] raw, string? id = null, IEnumerable<(string Name, bool Binary, int ClassCount)>? outputs = null)
    {
        var input = new JsonObject
        {
            ["name"] = "image",
            ["shape"] = new JsonArray(shape.Select(d => (JsonNode)d).ToArray()),
            ["datatype"] = datatype,
            ["parameters"] = new JsonObject { ["binary_data_size"] = raw.Length },
        };
        var request = new JsonObject();
        if (id is not null)
        {
            request["id"] = id;
        }

        request["inputs"] = new JsonArray(input);
        if (outputs is null)
        {
            request["parameters"] = new JsonObject { ["binary_data_output"] = true };
        }
        else
        {
            request["outputs"] = new JsonArray(outputs.Select(o =>
            {
                var parameters = new JsonObject();
                if (o.ClassCount != 0)
                {
                    parameters["classification"] = o.ClassCount;
                }

                parameters["binary_data"] = o.Binary;
                return (JsonNode)new JsonObject { ["name"] = o.Name, ["parameters"] = parameters };
            }).ToArray());
        }

        // json.dumps writes ", " and ": " separators.
        var json = Encoding.UTF8.GetBytes(PythonJson(request));
        return new WireBody([.. json, .. raw], json.Length);
    }

    /// <summary>serialize_byte_tensor: each element as a 4-byte little-endian length and its bytes.</summary>
    public static byte[] SerializeBytes(IEnumerable<byte[]> elements)
    {
        using var stream = new MemoryStream();
        Span<byte> length = stackalloc byte[4];
        foreach (var element in elements)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(length, (uint)element.Length);
            stream.Write(length);
            stream.Write(element);
        }

        return stream.ToArray();
    }

    public static HttpContent Json(JsonObject request) =>
        new StringContent(request.ToJsonString(), Encoding.UTF8, new MediaTypeHeaderValue("application/json"));

    /// <summary>An infer response as InferResult reads it: the JSON header, and each output's array (FP32 as floats, BYTES as strings).</summary>
    public static async Task<Result> ReadAsync(HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsByteArrayAsync();
        var headerLength = response.Headers.TryGetValues(HeaderLength, out var values) ? int.Parse(values.Single(), System.Globalization.CultureInfo.InvariantCulture) : body.Length;
        var header = JsonNode.Parse(body.AsSpan(0, headerLength))!.AsObject();
        var buffer = body.AsMemory(headerLength);
        var outputs = new Dictionary<string, Output>();
        var offset = 0;
        foreach (var output in header["outputs"]!.AsArray())
        {
            var name = output!["name"]!.GetValue<string>();
            var datatype = output["datatype"]!.GetValue<string>();
            var shape = output["shape"]!.AsArray().Select(d => d!.GetValue<int>()).ToArray();
            var size = output["parameters"]?["binary_data_size"]?.GetValue<int>();
            if (size is { } n)
            {
                var bytes = buffer.Slice(offset, n);
                offset += n;
                outputs[name] = datatype == "BYTES" ? new Output(shape, null, Deserialize(bytes.Span), true) : new Output(shape, FloatsOf(bytes.Span), null, true);
            }
            else
            {
                var data = output["data"]!.AsArray();
                outputs[name] = datatype == "BYTES"
                    ? new Output(shape, null, data.Select(d => d!.GetValue<string>()).ToArray(), false)
                    : new Output(shape, data.Select(d => d!.GetValue<float>()).ToArray(), null, false);
            }
        }

        if (offset != buffer.Length)
        {
            throw new InvalidDataException($"The response's binary outputs take {offset} bytes; {buffer.Length} follow its JSON header.");
        }

        return new Result(header, outputs);
    }

    private static float[] FloatsOf(ReadOnlySpan<byte> bytes)
    {
        var floats = new float[bytes.Length / 4];
        for (var i = 0; i < floats.Length; i++)
        {
            floats[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes[(i * 4)..]);
        }

        return floats;
    }

    private static string[] Deserialize(ReadOnlySpan<byte> bytes)
    {
        var strings = new List<string>();
        while (bytes.Length > 0)
        {
            var length = (int)BinaryPrimitives.ReadUInt32LittleEndian(bytes);
            strings.Add(Encoding.UTF8.GetString(bytes.Slice(4, length)));
            bytes = bytes[(4 + length)..];
        }

        return [.. strings];
    }

    private static string PythonJson(JsonNode node) => node switch
    {
        JsonObject o => "{" + string.Join(", ", o.Select(p => JsonSerializer.Serialize(p.Key) + ": " + PythonJson(p.Value!))) + "}",
        JsonArray a => "[" + string.Join(", ", a.Select(v => PythonJson(v!))) + "]",
        _ => node.ToJsonString(),
    };

    /// <summary>A request body and the length of its JSON header (the Inference-Header-Content-Length value).</summary>
    internal sealed record WireBody(byte[] Bytes, int HeaderLength);

    internal sealed record Output(int[] Shape, float[]? Floats, string[]? Strings, bool WasBinary);

    internal sealed record Result(JsonObject Header, IReadOnlyDictionary<string, Output> Outputs);
}
