using System.Text.Json;
using DogsVsCats.Vision.Shared;

namespace DogsVsCats.Vision.Trainer.Export;

/// <summary>
/// What a full-model checkpoint cannot say about itself (labels, backbone, how it scored), kept beside it as
/// <c>&lt;checkpoint&gt;.json</c> so <c>trainer export</c> needs nothing else.
/// </summary>
public sealed record CheckpointInfo(
    string Backbone, IReadOnlyList<string> Labels, string Strategy, double ValidationLoss, double ValidationAccuracy, DateTimeOffset TrainedAt)
{
    private static readonly JsonSerializerOptions Options = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    public static string PathFor(string checkpoint) => checkpoint + ".json";

    public void Save(string checkpoint) => AtomicFile.WriteAllText(PathFor(checkpoint), JsonSerializer.Serialize(this, Options) + "\n");

    public static CheckpointInfo Load(string checkpoint)
    {
        if (!File.Exists(checkpoint))
        {
            throw new ExportException($"Checkpoint '{checkpoint}' does not exist. Use a best.pt (frozen, finetune) or model.pt (features) from a run folder of 'trainer train'.");
        }

        var path = PathFor(checkpoint);
        if (!File.Exists(path))
        {
            throw new ExportException($"'{path}' is missing: the labels and backbone of '{checkpoint}' are unknown. Export a full-model checkpoint written by 'trainer train' (frozen/best.pt, features/model.pt, finetune/best.pt); features/best.pt holds the head alone.");
        }

        try
        {
            return JsonSerializer.Deserialize<CheckpointInfo>(File.ReadAllText(path), Options)
                ?? throw new ExportException($"'{path}' is empty.");
        }
        catch (JsonException e)
        {
            throw new ExportException($"'{path}' is not a checkpoint description ({e.Message}).");
        }
    }
}

/// <summary>An export that cannot be done as asked; the message says why and what to do.</summary>
public sealed class ExportException(string message, Exception? inner = null) : Exception(message, inner);
