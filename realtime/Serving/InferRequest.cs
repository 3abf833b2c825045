using System.Buffers.Binary;
using System.Text.Json;
using DogsVsCats.Vision.Shared;
using Microsoft.AspNetCore.Http;

namespace DogsVsCats.Vision.Realtime.Serving;

/// <summary>An output the request asked for: its name, whether it comes as binary data, and the classification count (0: none).</summary>
internal sealed record RequestedOutput(string Name, bool Binary, int Classification);

/// <summary>
/// An Open Inference Protocol (KServe V2) infer request, as JSON alone or with the binary tensor data extension: the
/// JSON header (its length in the Inference-Header-Content-Length header) followed by each input's bytes, in input
/// order, as NVIDIA's tritonclient.http sends a numpy array. The model has one input, <c>image</c>: uint8
/// [N, H, W, 3] BGR at the model's size, or encoded photos as BYTES [N] (in JSON as base64 strings; in binary as
/// tritonclient serialises them, each a 4-byte little-endian length and the bytes).
/// </summary>
internal sealed class InferRequest : IDisposable
{
    public const string ProbabilitiesOutput = ModelContract.ProbabilitiesName;
    public const string LabelOutput = "label";
    public const string CamOutput = ModelContract.CamName;
    public const string HeaderLength = "Inference-Header-Content-Length";

    private static readonly JsonDocumentOptions JsonOptions = new() { MaxDepth = 32 };
    private readonly JsonDocument document;

    private InferRequest(JsonDocument document) => this.document = document;

    public string? Id { get; private init; }

    /// <summary>UINT8 or BYTES.</summary>
    public string Datatype { get; private init; } = "";

    /// <summary>Images in the request (the batch dimension).</summary>
    public int Count { get; private init; }

    /// <summary>The input's binary data, or null when it came as JSON <see cref="Data"/>.</summary>
    public ReadOnlyMemory<byte>? Binary { get; private init; }

    public JsonElement Data { get; private init; }

    public IReadOnlyList<RequestedOutput> Outputs { get; private init; } = [];

    /// <summary>Reads and checks a request; every fault is a <see cref="ProtocolException"/> 400 that says what to fix.</summary>
    public static InferRequest Parse(ReadOnlyMemory<byte> body, string? headerLength, ModelDescription model, int maxBatch)
    {
        var jsonLength = body.Length;
        if (headerLength is not null)
        {
            if (!int.TryParse(headerLength, out jsonLength) || jsonLength < 0)
            {
                throw Bad($"{HeaderLength} '{headerLength}' is not a length in bytes.");
            }

            if (jsonLength > body.Length)
            {
                throw Bad($"{HeaderLength} says the JSON header is {jsonLength} bytes, but the body is only {body.Length}.");
            }
        }

        if (jsonLength == 0)
        {
            throw Bad("The request body is empty; send a JSON inference request (see GET /v2/models/NAME for the input).");
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body[..jsonLength], JsonOptions);
        }
        catch (JsonException e)
        {
            throw Bad($"The inference request is not valid JSON ({e.Message}).");
        }

        try
        {
            return Read(document, body[jsonLength..], model, maxBatch);
        }
        catch
        {
            document.Dispose();
            throw;
        }
    }

    /// <summary>The photos of a BYTES input, from binary data or base64 JSON strings.</summary>
    public IReadOnlyList<ReadOnlyMemory<byte>> Photos()
    {
        var photos = new List<ReadOnlyMemory<byte>>(Count);
        if (Binary is { } binary)
        {
            var at = 0;
            while (at < binary.Length)
            {
                if (binary.Length - at < 4)
                {
                    throw Bad($"input 'image' (BYTES): {binary.Length - at} stray bytes after element {photos.Count}; each element is a 4-byte little-endian length and its bytes.");
                }

                var length = BinaryPrimitives.ReadUInt32LittleEndian(binary.Span[at..]);
                at += 4;
                if (length > (uint)(binary.Length - at))
                {
                    throw Bad($"input 'image' (BYTES): element {photos.Count} says {length} bytes, but only {binary.Length - at} remain in its binary_data_size.");
                }

                photos.Add(binary.Slice(at, (int)length));
                at += (int)length;
            }
        }
        else
        {
            if (Data.ValueKind != JsonValueKind.Array)
            {
                throw Bad("input 'image' (BYTES) needs 'data': an array of base64 strings, one encoded photo each (or binary data).");
            }

            foreach (var item in Data.EnumerateArray())
            {
                if (item.ValueKind != JsonValueKind.String || !item.TryGetBytesFromBase64(out var bytes))
                {
                    throw Bad($"input 'image' (BYTES) element {photos.Count} is not a base64 string; in JSON each photo's bytes are sent base64-encoded.");
                }

                photos.Add(bytes);
            }
        }

        if (photos.Count != Count)
        {
            throw Bad($"input 'image' (BYTES) holds {photos.Count} elements; its shape says {Count}.");
        }

        return photos;
    }

    public void Dispose() => document.Dispose();

    private static InferRequest Read(JsonDocument document, ReadOnlyMemory<byte> binary, ModelDescription model, int maxBatch)
    {
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw Bad("The inference request must be a JSON object with 'inputs'.");
        }

        string? id = null;
        if (root.TryGetProperty("id", out var idElement))
        {
            id = idElement.ValueKind == JsonValueKind.String ? idElement.GetString() : throw Bad("'id' must be a string.");
        }

        var binaryOutputs = root.TryGetProperty("parameters", out var parameters) && Flag(parameters, "binary_data_output") == true;
        if (!root.TryGetProperty("inputs", out var inputs) || inputs.ValueKind != JsonValueKind.Array || inputs.GetArrayLength() == 0)
        {
            throw Bad($"The request needs 'inputs': [{{\"name\": \"{ModelContract.InputName}\", \"datatype\": \"UINT8\" or \"BYTES\", \"shape\": [...], \"data\": [...]}}].");
        }

        if (inputs.GetArrayLength() > 1)
        {
            var names = string.Join(", ", inputs.EnumerateArray().Select(i => i.TryGetProperty("name", out var n) ? n.ToString() : "?"));
            throw Bad($"The model takes one input, '{ModelContract.InputName}'; the request has {inputs.GetArrayLength()} ({names}).");
        }

        var input = inputs[0];
        var name = input.TryGetProperty("name", out var nameElement) && nameElement.ValueKind == JsonValueKind.String ? nameElement.GetString() : null;
        if (name != ModelContract.InputName)
        {
            throw Bad($"Unknown input '{name}': the model's input is '{ModelContract.InputName}' (UINT8 [N, {model.InputHeight}, {model.InputWidth}, 3] BGR, or BYTES [N] of encoded photos).");
        }

        var datatype = input.TryGetProperty("datatype", out var typeElement) && typeElement.ValueKind == JsonValueKind.String ? typeElement.GetString() : null;
        var shape = Shape(input);
        var count = datatype switch
        {
            "UINT8" when shape is [var n, var h, var w, 3] && h == model.InputHeight && w == model.InputWidth => n,
            "UINT8" => throw Bad($"input 'image' UINT8 must have shape [N, {model.InputHeight}, {model.InputWidth}, 3] (BGR at the model's size); got [{string.Join(", ", shape)}]. Photos of any size can be sent encoded, as BYTES [N]."),
            "BYTES" when shape is [_] or [_, 1] => shape[0],
            "BYTES" => throw Bad($"input 'image' BYTES must have shape [N] (one encoded photo per element); got [{string.Join(", ", shape)}]."),
            _ => throw Bad($"input 'image' has datatype '{datatype}'; it takes UINT8 [N, {model.InputHeight}, {model.InputWidth}, 3] or BYTES [N]."),
        };
        if (count < 1 || count > maxBatch)
        {
            throw Bad($"input 'image' holds {count} images; send 1 to {maxBatch} per request (--max-batch).");
        }

        ReadOnlyMemory<byte>? data = null;
        var claimed = 0L;
        if (input.TryGetProperty("parameters", out var inputParameters) && inputParameters.TryGetProperty("binary_data_size", out var sizeElement))
        {
            if (!sizeElement.TryGetInt64(out claimed) || claimed < 0 || claimed > binary.Length)
            {
                throw Bad($"input 'image' binary_data_size {sizeElement} is not within the {binary.Length} bytes after the JSON header ({HeaderLength}).");
            }

            data = binary[..(int)claimed];
            var expected = (long)count * model.InputHeight * model.InputWidth * 3;
            if (datatype == "UINT8" && claimed != expected)
            {
                throw Bad($"input 'image' UINT8 [{string.Join(", ", shape)}] is {expected} bytes; binary_data_size says {claimed}.");
            }
        }
        else if (!input.TryGetProperty("data", out _))
        {
            throw Bad("input 'image' has neither 'data' nor a binary_data_size parameter.");
        }

        if (claimed != binary.Length)
        {
            throw Bad($"{binary.Length - claimed} bytes follow the JSON header that no input claims (binary_data_size).");
        }

        return new InferRequest(document)
        {
            Id = id,
            Datatype = datatype!,
            Count = count,
            Binary = data,
            Data = data is null ? input.GetProperty("data") : default,
            Outputs = ReadOutputs(root, binaryOutputs, model.Labels.Count),
        };
    }

    private static int[] Shape(JsonElement input)
    {
        if (!input.TryGetProperty("shape", out var shape) || shape.ValueKind != JsonValueKind.Array)
        {
            throw Bad("input 'image' needs 'shape', an array of integers.");
        }

        return shape.EnumerateArray().Select(d => d.TryGetInt32(out var v) && v >= 0 ? v : throw Bad($"input 'image' shape {shape} must hold non-negative integers.")).ToArray();
    }

    private static List<RequestedOutput> ReadOutputs(JsonElement root, bool binaryByDefault, int classes)
    {
        if (!root.TryGetProperty("outputs", out var outputs))
        {
            return [new(ProbabilitiesOutput, binaryByDefault, 0), new(LabelOutput, binaryByDefault, 0)];
        }

        if (outputs.ValueKind != JsonValueKind.Array)
        {
            throw Bad("'outputs' must be an array of {\"name\": ...}.");
        }

        var requested = new List<RequestedOutput>();
        foreach (var output in outputs.EnumerateArray())
        {
            var name = output.ValueKind == JsonValueKind.Object && output.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString()! : "";
            if (name is not (ProbabilitiesOutput or LabelOutput or CamOutput))
            {
                throw Bad($"Unknown output '{name}': the model has '{ProbabilitiesOutput}', '{LabelOutput}' and '{CamOutput}'.");
            }

            if (requested.Any(r => r.Name == name))
            {
                throw Bad($"Output '{name}' is asked for twice.");
            }

            var parameters = output.TryGetProperty("parameters", out var p) ? p : default;
            var classification = 0;
            if (parameters.ValueKind == JsonValueKind.Object && parameters.TryGetProperty("classification", out var k))
            {
                if (!k.TryGetInt32(out classification) || classification < 0)
                {
                    throw Bad($"Output '{name}': classification must be a count of classes, got {k}.");
                }

                if (classification > 0 && name != ProbabilitiesOutput)
                {
                    throw Bad($"Output '{name}': classification applies to '{ProbabilitiesOutput}' only.");
                }
            }

            var binary = parameters.ValueKind == JsonValueKind.Object ? Flag(parameters, "binary_data") : null;
            requested.Add(new RequestedOutput(name, binary ?? binaryByDefault, Math.Min(classification, classes)));
        }

        return requested;
    }

    private static bool? Flag(JsonElement parameters, string name) =>
        parameters.ValueKind == JsonValueKind.Object && parameters.TryGetProperty(name, out var value)
            ? value.ValueKind switch
            {
                JsonValueKind.True => true,
                JsonValueKind.False => false,
                _ => throw Bad($"parameter '{name}' must be true or false, got {value}."),
            }
            : null;

    private static ProtocolException Bad(string message) => new(StatusCodes.Status400BadRequest, message);
}
