using System.Globalization;
using System.Text.Json;

namespace DogsVsCats.Vision.Shared;

/// <summary>
/// The model file contract between trainer and realtime app (version 1).
/// Input <c>image</c>: uint8 [N, H, W, 3], BGR (what OpenCV hands over), already resized with
/// <see cref="ImagePreprocessing.Resize"/>; every other step (cast, channel order, normalisation, NHWC to NCHW) is
/// inside the graph. Outputs: <c>probabilities</c> float [N, C] (softmax, labels in metadata order) and <c>cam</c>
/// float [N, C, h, w], the class activation maps of the last convolution stage.
/// </summary>
public static class ModelContract
{
    public const int Version = 1;
    public const string InputName = "image";
    public const string ProbabilitiesName = "probabilities";
    public const string CamName = "cam";
    public const string ChannelOrder = "BGR";

    /// <summary>Keys of the ONNX <c>metadata_props</c>.</summary>
    public static class Keys
    {
        public const string ContractVersion = "dogsvscats.contract_version";
        public const string Labels = "dogsvscats.labels";
        public const string InputWidth = "dogsvscats.input_width";
        public const string InputHeight = "dogsvscats.input_height";
        public const string ChannelOrder = "dogsvscats.channel_order";
        public const string ResizeRule = "dogsvscats.resize_rule";
        public const string Interpolation = "dogsvscats.interpolation";
        public const string Backbone = "dogsvscats.backbone";
        public const string Preprocessing = "dogsvscats.preprocessing";
        public const string Strategy = "dogsvscats.strategy";
        public const string ValidationLoss = "dogsvscats.validation_loss";
        public const string ValidationAccuracy = "dogsvscats.validation_accuracy";
        public const string TrainedAt = "dogsvscats.trained_at";
        public const string Producer = "dogsvscats.producer";
        public const string ProducerVersion = "dogsvscats.producer_version";

        /// <summary>Optional: how the weights and activations were quantized (absent for a float model).</summary>
        public const string Quantization = "dogsvscats.quantization";

        /// <summary>Optional: how many photos the quantization ranges were measured on.</summary>
        public const string CalibrationImages = "dogsvscats.calibration_images";

        /// <summary>Optional: "flip" when the graph averages the image and its mirror; "none" (or absent) otherwise.</summary>
        public const string Tta = "dogsvscats.tta";

        /// <summary>Optional: the temperature the logits are divided by before the softmax (absent = 1).</summary>
        public const string Temperature = "dogsvscats.temperature";

        /// <summary>Optional, for strategy "ensemble": its members' strategies as a JSON list.</summary>
        public const string Members = "dogsvscats.members";
    }

    /// <summary>Values of <see cref="Keys.Tta"/>.</summary>
    public static class TtaModes
    {
        public const string None = "none";
        public const string Flip = "flip";
    }
}

/// <summary>A model file's self-description, read from and written to ONNX <c>metadata_props</c>.</summary>
public sealed record ModelDescription(
    IReadOnlyList<string> Labels,
    int InputWidth,
    int InputHeight,
    string Backbone,
    string Preprocessing,
    string Strategy,
    double ValidationLoss,
    double ValidationAccuracy,
    DateTimeOffset TrainedAt,
    string Producer,
    string ProducerVersion)
{
    public int ContractVersion { get; init; } = ModelContract.Version;

    public string ResizeRule { get; init; } = ImagePreprocessing.ResizeRule;

    public string Interpolation { get; init; } = ImagePreprocessing.Interpolation;

    public string ChannelOrder { get; init; } = ModelContract.ChannelOrder;

    /// <summary>The largest input side a model may declare: far above any CNN input, small enough to allocate buffers for.</summary>
    public const int MaxInputSize = 4096;

    /// <summary>Null for a float model; else the scheme, e.g. "int8-qdq: ..." (the graph computes the same contract).</summary>
    public string? Quantization { get; init; }

    public int? CalibrationImages { get; init; }

    /// <summary>Test-time augmentation inside the graph: <see cref="ModelContract.TtaModes"/>.</summary>
    public string Tta { get; init; } = ModelContract.TtaModes.None;

    /// <summary>The graph's softmax reads logits / Temperature (fitted on validation; 1 = none).</summary>
    public double Temperature { get; init; } = 1;

    /// <summary>The strategies averaged by an ensemble model; empty for a single model.</summary>
    public IReadOnlyList<string> Members { get; init; } = [];

    /// <summary>"int8" for an int8 model, "float32" otherwise (what a device line shows).</summary>
    public string Precision => Quantization is null ? "float32" : Quantization.Split(['-', ':'], 2)[0];

    public IReadOnlyDictionary<string, string> ToProperties()
    {
        var properties = new Dictionary<string, string>
        {
            [ModelContract.Keys.ContractVersion] = ContractVersion.ToString(CultureInfo.InvariantCulture),
            [ModelContract.Keys.Labels] = JsonSerializer.Serialize(Labels),
            [ModelContract.Keys.InputWidth] = InputWidth.ToString(CultureInfo.InvariantCulture),
            [ModelContract.Keys.InputHeight] = InputHeight.ToString(CultureInfo.InvariantCulture),
            [ModelContract.Keys.ChannelOrder] = ChannelOrder,
            [ModelContract.Keys.ResizeRule] = ResizeRule,
            [ModelContract.Keys.Interpolation] = Interpolation,
            [ModelContract.Keys.Backbone] = Backbone,
            [ModelContract.Keys.Preprocessing] = Preprocessing,
            [ModelContract.Keys.Strategy] = Strategy,
            [ModelContract.Keys.ValidationLoss] = ValidationLoss.ToString("R", CultureInfo.InvariantCulture),
            [ModelContract.Keys.ValidationAccuracy] = ValidationAccuracy.ToString("R", CultureInfo.InvariantCulture),
            [ModelContract.Keys.TrainedAt] = TrainedAt.ToString("O", CultureInfo.InvariantCulture),
            [ModelContract.Keys.Producer] = Producer,
            [ModelContract.Keys.ProducerVersion] = ProducerVersion,
        };
        if (Quantization is not null)
        {
            properties[ModelContract.Keys.Quantization] = Quantization;
        }

        if (CalibrationImages is { } images)
        {
            properties[ModelContract.Keys.CalibrationImages] = images.ToString(CultureInfo.InvariantCulture);
        }

        properties[ModelContract.Keys.Tta] = Tta;
        properties[ModelContract.Keys.Temperature] = Temperature.ToString("R", CultureInfo.InvariantCulture);
        if (Members.Count > 0)
        {
            properties[ModelContract.Keys.Members] = JsonSerializer.Serialize(Members);
        }

        return properties;
    }

    /// <summary>Parses and checks a model's properties; anything missing or unsupported is a <see cref="ModelContractException"/>.</summary>
    public static ModelDescription FromProperties(IReadOnlyDictionary<string, string> properties, string source)
    {
        ArgumentNullException.ThrowIfNull(properties);
        string Get(string key) => properties.TryGetValue(key, out var value) && !string.IsNullOrWhiteSpace(value)
            ? value
            : throw new ModelContractException($"{source} has no '{key}' in its metadata: it was not exported by the DogsVsCats.Vision trainer. Export it with 'trainer export --checkpoint <best.pt> --out model.onnx'.");
        int Int(string key, int max) => int.TryParse(Get(key), NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) && v > 0 && v <= max
            ? v
            : throw new ModelContractException($"{source}: metadata '{key}' = '{Get(key)}' is not a whole number from 1 to {max}.");
        double Number(string key, double max) =>
            double.TryParse(Get(key), NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && double.IsFinite(v) && v >= 0 && v <= max
                ? v
                : throw new ModelContractException($"{source}: metadata '{key}' = '{Get(key)}' is not a number from 0 to {max}.");
        double Positive(string key) => Number(key, double.MaxValue) is var v && v > 0
            ? v
            : throw new ModelContractException($"{source}: metadata '{key}' = '{Get(key)}' is not a number above 0.");
        string[] Names(string key)
        {
            try
            {
                return JsonSerializer.Deserialize<string[]>(Get(key)) ?? [];
            }
            catch (JsonException e)
            {
                throw new ModelContractException($"{source}: metadata '{key}' is not a JSON list of names ({e.Message}).");
            }
        }

        string Expect(string key, string expected, string what)
        {
            var value = Get(key);
            return value == expected
                ? value
                : throw new ModelContractException($"{source} expects {what} '{value}'; this program uses '{expected}'. Re-export the model with this version's trainer.");
        }

        var version = Int(ModelContract.Keys.ContractVersion, int.MaxValue);
        if (version != ModelContract.Version)
        {
            throw new ModelContractException($"{source} uses model contract version {version}; this program reads version {ModelContract.Version}. Re-export the model with this version's trainer.");
        }

        string[] labels;
        try
        {
            labels = JsonSerializer.Deserialize<string[]>(Get(ModelContract.Keys.Labels)) ?? [];
        }
        catch (JsonException e)
        {
            throw new ModelContractException($"{source}: metadata '{ModelContract.Keys.Labels}' is not a JSON list of names ({e.Message}).");
        }

        if (labels.Length < 2 || labels.Any(string.IsNullOrWhiteSpace))
        {
            throw new ModelContractException($"{source}: a model needs at least two non-empty labels, metadata has [{string.Join(", ", labels)}].");
        }

        if (labels.Distinct(StringComparer.Ordinal).Count() != labels.Length)
        {
            throw new ModelContractException($"{source}: metadata labels [{string.Join(", ", labels)}] name a class twice.");
        }

        var resize = Expect(ModelContract.Keys.ResizeRule, ImagePreprocessing.ResizeRule, "images resized by rule");
        var interpolation = Expect(ModelContract.Keys.Interpolation, ImagePreprocessing.Interpolation, "images resized with interpolation");
        var channels = Get(ModelContract.Keys.ChannelOrder);
        if (channels != ModelContract.ChannelOrder)
        {
            throw new ModelContractException($"{source} expects {channels} pixels; the contract is {ModelContract.ChannelOrder}.");
        }

        if (!DateTimeOffset.TryParse(Get(ModelContract.Keys.TrainedAt), CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var trainedAt))
        {
            throw new ModelContractException($"{source}: metadata '{ModelContract.Keys.TrainedAt}' = '{Get(ModelContract.Keys.TrainedAt)}' is not a date and time.");
        }

        return new ModelDescription(
            labels,
            Int(ModelContract.Keys.InputWidth, MaxInputSize),
            Int(ModelContract.Keys.InputHeight, MaxInputSize),
            Get(ModelContract.Keys.Backbone),
            Get(ModelContract.Keys.Preprocessing),
            Get(ModelContract.Keys.Strategy),
            Number(ModelContract.Keys.ValidationLoss, double.PositiveInfinity),
            Number(ModelContract.Keys.ValidationAccuracy, 1),
            trainedAt,
            Get(ModelContract.Keys.Producer),
            Get(ModelContract.Keys.ProducerVersion))
        {
            ContractVersion = version,
            ResizeRule = resize,
            Interpolation = interpolation,
            ChannelOrder = channels,
            Quantization = properties.TryGetValue(ModelContract.Keys.Quantization, out var quantization) && !string.IsNullOrWhiteSpace(quantization) ? quantization : null,
            CalibrationImages = properties.ContainsKey(ModelContract.Keys.CalibrationImages) ? Int(ModelContract.Keys.CalibrationImages, int.MaxValue) : null,
            // Files written before these keys existed ran one plain pass at temperature 1.
            Tta = properties.TryGetValue(ModelContract.Keys.Tta, out var tta) && !string.IsNullOrWhiteSpace(tta) ? tta : ModelContract.TtaModes.None,
            Temperature = properties.ContainsKey(ModelContract.Keys.Temperature) ? Positive(ModelContract.Keys.Temperature) : 1,
            Members = properties.ContainsKey(ModelContract.Keys.Members) ? Names(ModelContract.Keys.Members) : [],
        };
    }
}

/// <summary>A model file that does not meet the contract; the message says what to do.</summary>
public sealed class ModelContractException(string message) : Exception(message);
