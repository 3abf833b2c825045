using System.Text.Json;
using DogsVsCats.Vision.Shared;
using DogsVsCats.Vision.Trainer.Models;

namespace DogsVsCats.Vision.Trainer.Export;

/// <summary>
/// What a full-model checkpoint cannot say about itself, kept beside it as <c>&lt;checkpoint&gt;.json</c> so
/// <c>trainer export</c> needs nothing else: the <see cref="ModelDescription"/> its export carries, written as the very
/// metadata properties of the model file and read back through the same checks.
/// </summary>
internal static class CheckpointInfo
{
    private static readonly JsonSerializerOptions Options = new() { WriteIndented = true };

    public static string PathFor(string checkpoint) => checkpoint + ".json";

    /// <summary>The description of a model the trainer just trained, as its export will carry it.</summary>
    public static ModelDescription Describe(BackboneInfo backbone, IReadOnlyList<string> labels, string strategy, double validationLoss, double validationAccuracy) =>
        new(labels, backbone.InputWidth, backbone.InputHeight, backbone.Name, backbone.Preprocessing, strategy, validationLoss, validationAccuracy,
            DateTimeOffset.Now, ModelExporter.Producer, ModelExporter.ProducerVersion);

    public static void Save(ModelDescription description, string checkpoint) =>
        AtomicFile.WriteAllText(PathFor(checkpoint), JsonSerializer.Serialize(description.ToProperties().OrderBy(p => p.Key, StringComparer.Ordinal).ToDictionary(), Options) + "\n");

    public static ModelDescription Load(string checkpoint)
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
            var properties = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(File.ReadAllText(path), Options)
                ?? throw new ExportException($"'{path}' is empty.");
            return properties.ContainsKey(ModelContract.Keys.ContractVersion)
                ? ModelDescription.FromProperties(properties.ToDictionary(p => p.Key, p => p.Value.ToString()), path)
                : FromEarlierVersion(properties, path);
        }
        catch (JsonException e)
        {
            throw new ExportException($"'{path}' is not a checkpoint description ({e.Message}).");
        }
        catch (ModelContractException e)
        {
            throw new ExportException(e.Message, e);
        }
    }

    /// <summary>
    /// Descriptions written before they held the model's metadata (backbone, labels, strategy, scores, date in
    /// camelCase): the rest comes from the backbone, so checkpoints of earlier runs still export.
    /// </summary>
    private static ModelDescription FromEarlierVersion(Dictionary<string, JsonElement> properties, string path)
    {
        string Text(string key) => properties.TryGetValue(key, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()!
            : throw new ExportException($"'{path}' has no '{key}': it is not a checkpoint description written by 'trainer train'.");
        double Number(string key) => properties.TryGetValue(key, out var value) && value.ValueKind == JsonValueKind.Number
            ? value.GetDouble()
            : throw new ExportException($"'{path}' has no number '{key}': it is not a checkpoint description written by 'trainer train'.");

        var backbone = Backbones.Describe(Text("backbone"));
        var labels = properties.TryGetValue("labels", out var list) && list.ValueKind == JsonValueKind.Array
            ? list.EnumerateArray().Select(l => l.GetString() ?? string.Empty).ToList()
            : throw new ExportException($"'{path}' has no 'labels': it is not a checkpoint description written by 'trainer train'.");
        return Describe(backbone, labels, Text("strategy"), Number("validationLoss"), Number("validationAccuracy")) with
        {
            TrainedAt = DateTimeOffset.Parse(Text("trainedAt"), System.Globalization.CultureInfo.InvariantCulture),
        };
    }
}

/// <summary>An export that cannot be done as asked; the message says why and what to do.</summary>
internal sealed class ExportException(string message, Exception? inner = null) : Exception(message, inner);
