using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace DogsVsCats.Vision.Realtime.Inference;

/// <summary>
/// One line of --jsonl, the same shape for a folder's image and a live frame; a key without a value for that source
/// is left out. <c>probabilities</c> are always the model's raw output; <c>smoothed</c> (live only) the moving average
/// that <c>label</c> and <c>confidence</c> come from.
/// </summary>
internal sealed record PredictionLine
{
    // Relaxed escaping: a path's quotes and a PNG's base64 '+' are written as they are (the lines are JSON, never HTML).
    private static readonly JsonSerializerOptions Options = new() { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Folder: the photo.</summary>
    [JsonPropertyName("path")]
    public string? Path { get; init; }

    /// <summary>Live: the frame's index in the source.</summary>
    [JsonPropertyName("frame")]
    public long? Frame { get; init; }

    /// <summary>The label every output shows ('uncertain' below --min-confidence; empty for an unreadable file).</summary>
    [JsonPropertyName("label")]
    public string Label { get; init; } = "";

    /// <summary>Probability of the top class, smoothed where there is smoothing.</summary>
    [JsonPropertyName("confidence")]
    public float? Confidence { get; init; }

    /// <summary>The top class of the raw probabilities, with no threshold.</summary>
    [JsonPropertyName("raw_label")]
    public string? RawLabel { get; init; }

    [JsonPropertyName("probabilities")]
    public IReadOnlyDictionary<string, float>? Probabilities { get; init; }

    [JsonPropertyName("smoothed")]
    public IReadOnlyDictionary<string, float>? Smoothed { get; init; }

    /// <summary>Size of the image as read, before the resize.</summary>
    [JsonPropertyName("width")]
    public int? Width { get; init; }

    [JsonPropertyName("height")]
    public int? Height { get; init; }

    /// <summary>Folder: why the file could not be labelled.</summary>
    [JsonPropertyName("error")]
    public string? Error { get; init; }

    /// <summary>Folder: where sorting puts the photo.</summary>
    [JsonPropertyName("destination")]
    public string? Destination { get; init; }

    /// <summary>Live: milliseconds from capture to the label.</summary>
    [JsonPropertyName("latency_ms")]
    public double? LatencyMs { get; init; }

    /// <summary>Live: frames per second the loop achieves.</summary>
    [JsonPropertyName("fps")]
    public double? Fps { get; init; }

    /// <summary>Live: frames dropped so far because the loop was busy.</summary>
    [JsonPropertyName("dropped")]
    public long? Dropped { get; init; }

    [JsonPropertyName("timings_ms")]
    public Timings? TimingsMs { get; init; }

    /// <summary>Served (?cam=true): the activation map of the label over what the model saw, a base64 PNG.</summary>
    [JsonPropertyName("cam_png")]
    public string? CamPng { get; init; }

    /// <summary>The prediction part of a line: <paramref name="label"/> and the confidence from <paramref name="smoothed"/> when given, else from <paramref name="raw"/>.</summary>
    public static PredictionLine Of(string label, Prediction? raw, Prediction? smoothed = null) => raw is null ? new() { Label = label } : new()
    {
        Label = label,
        Confidence = (smoothed ?? raw).Confidence,
        RawLabel = raw.Labels[raw.TopIndex],
        Probabilities = ByLabel(raw),
        Smoothed = smoothed is null ? null : ByLabel(smoothed),
        Width = raw.Width,
        Height = raw.Height,
        TimingsMs = new Timings(raw.Timings.PreprocessMs, raw.Timings.InferenceMs, raw.Timings.PostprocessMs, raw.BatchSize),
    };

    public string ToJson() => JsonSerializer.Serialize(this, Options);

    /// <summary>Several lines as one JSON array, each as <see cref="ToJson()"/> writes it.</summary>
    public static string ToJson(IEnumerable<PredictionLine> lines) => JsonSerializer.Serialize(lines, Options);

    private static Dictionary<string, float> ByLabel(Prediction prediction) =>
        prediction.Labels.Select((label, i) => (label, i)).ToDictionary(x => x.label, x => prediction.Probabilities[x.i], StringComparer.Ordinal);

    /// <summary>Milliseconds of each stage of the classifier call that produced the line, and that call's batch size.</summary>
    internal sealed record Timings(
        [property: JsonPropertyName("preprocess")] double Preprocess,
        [property: JsonPropertyName("inference")] double Inference,
        [property: JsonPropertyName("postprocess")] double Postprocess,
        [property: JsonPropertyName("batch")] int Batch);
}

/// <summary>Appends <see cref="PredictionLine"/>s to a JSON lines file (--jsonl), flushed after each call so a reader sees whole lines.</summary>
internal sealed class PredictionJsonl(string path) : IDisposable
{
    private readonly StreamWriter writer = new(path, append: true) { NewLine = "\n" };

    public void Write(IEnumerable<PredictionLine> lines)
    {
        foreach (var line in lines)
        {
            writer.WriteLine(line.ToJson());
        }

        writer.Flush();
    }

    public void Dispose() => writer.Dispose();
}
