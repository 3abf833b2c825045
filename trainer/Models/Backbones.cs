namespace DogsVsCats.Vision.Trainer.Models;

/// <summary>A backbone by CLI name, the weights file it loads (torchvision backbones only) and its square input size (null: its own).</summary>
internal sealed record BackboneSpec(string Name, string? WeightsPath = null, int? ImageSize = null)
{
    public static BackboneSpec Default { get; } = new(CntkResNet18.BackboneName);

    /// <summary>What the run feeds the backbone: its name, blocks and the input size actually used.</summary>
    public BackboneInfo Info
    {
        get
        {
            var native = Backbones.Describe(Name);
            return ImageSize is { } size ? native.WithSize(size) : native;
        }
    }
}

/// <summary>
/// Everything the program knows about one backbone: its name, input size, preprocessing and last stage
/// (<see cref="Info"/>), how its layers are built and how its pretrained weights load. Adding a backbone means adding
/// one entry to <see cref="Backbones.Registry"/>.
/// </summary>
/// <param name="Info">Name, input size, feature channels, preprocessing and last stage, as the rest of the program sees them.</param>
/// <param name="Architecture">The layers for a square input size, without pretrained weights.</param>
/// <param name="NeedsWeightsFile">True when the user brings the weights with --weights.</param>
/// <param name="LoadWeights">Loads the pretrained weights into a new <see cref="Architecture"/> (the spec's weights file, if any).</param>
/// <param name="WeightFiles">Files whose bytes define the pretrained weights (part of the feature-cache key).</param>
/// <param name="TrainingSize">The square input a run uses when <c>--image-size</c> is not given, where measured better than the network's own; null: its own.</param>
internal sealed record BackboneEntry(
    BackboneInfo Info,
    Func<int, Backbone> Architecture,
    bool NeedsWeightsFile,
    Action<Backbone, BackboneSpec> LoadWeights,
    Func<BackboneSpec, IReadOnlyList<string>> WeightFiles,
    int? TrainingSize = null)
{
    public string Name => Info.Name;
}

/// <summary>Builds backbones by their CLI name with their pretrained weights loaded.</summary>
internal static class Backbones
{
    public static IReadOnlyList<BackboneEntry> Registry { get; } =
    [
        new(
            // Rebuilt from ResNet18.onnx of NuGet Microsoft.ML.DnnImageFeaturizer.ResNet18 (CNTK 2.6, with ResNetPreprocess.onnx).
            CntkResNet18.Description,
            size => new CntkResNet18(size),
            NeedsWeightsFile: false,
            (backbone, _) => ((CntkResNet18)backbone).LoadOnnxWeights(ResNet18OnnxPath, ResNet18PreprocessOnnxPath),
            _ => [ResNet18OnnxPath, ResNet18PreprocessOnnxPath],
            // docs/training.md, 'The recipe's choices': features at 256 px reached validation loss 0.0240 against 0.0321 at 224 px.
            TrainingSize: 256),
        Torchvision(TorchvisionResNet50.Description, size => new TorchvisionResNet50(size)),
        Torchvision(TorchvisionInceptionV3.Description, size => new TorchvisionInceptionV3(size)),
    ];

    public static IReadOnlyList<string> Names { get; } = [.. Registry.Select(b => b.Name)];

    /// <summary>The largest <c>--image-size</c> (the model contract accepts up to 4,096; past this a CPU run is impractical).</summary>
    public const int MaximumInputSize = 1024;

    /// <summary>Folder the build copies the packaged ImageNet models into (beside the program).</summary>
    public static string ModelsDirectory => Path.Combine(AppContext.BaseDirectory, "models");

    public static string ResNet18OnnxPath => Path.Combine(ModelsDirectory, "ResNet18.onnx");

    public static string ResNet18PreprocessOnnxPath => Path.Combine(ModelsDirectory, "ResNetPreprocess.onnx");

    public static BackboneEntry Find(string name) =>
        Registry.SingleOrDefault(b => b.Name == name)
        ?? throw new ArgumentException($"Unknown backbone '{name}'. Choose one of: {string.Join(", ", Names)}.", nameof(name));

    public static BackboneInfo Describe(string name) => Find(name).Info;

    /// <summary>The <c>--image-size</c> a run of <paramref name="name"/> uses by default.</summary>
    public static int DefaultImageSize(string name) => Find(name) is var entry && entry.TrainingSize is { } size ? size : entry.Info.InputWidth;

    /// <summary>
    /// Checks that <paramref name="spec"/> names a backbone and, where one is needed, an existing weights file
    /// (and none where none is used). Returns null when it is usable, otherwise what to fix.
    /// </summary>
    public static string? Problem(BackboneSpec spec)
    {
        var entry = Registry.SingleOrDefault(b => b.Name == spec.Name);
        if (entry is null)
        {
            return $"Unknown backbone '{spec.Name}'. Choose one of: {string.Join(", ", Names)}.";
        }

        if (entry.NeedsWeightsFile && spec.WeightsPath is null)
        {
            return $"--backbone {spec.Name} needs --weights FILE: torchvision's ImageNet {spec.Name} state_dict (.pth or .safetensors). README, 'Other backbones', says where to get it.";
        }

        if (!entry.NeedsWeightsFile && spec.WeightsPath is not null)
        {
            return $"--weights is for torchvision backbones ({string.Join(", ", Registry.Where(b => b.NeedsWeightsFile).Select(b => b.Name))}); {spec.Name} brings its own ImageNet weights. Drop --weights or choose --backbone resnet50 or inception_v3.";
        }

        if (spec.ImageSize is { } size && (size < entry.Info.MinimumInputSize || size > MaximumInputSize))
        {
            return $"--image-size {size} does not fit {spec.Name}: choose {entry.Info.MinimumInputSize} to {MaximumInputSize} (its own size is {entry.Info.InputWidth}).";
        }

        if (spec.WeightsPath is not null && !File.Exists(spec.WeightsPath))
        {
            return $"Weights file '{spec.WeightsPath}' does not exist.";
        }

        return null;
    }

    /// <summary>The backbone with its pretrained weights.</summary>
    public static Backbone Create(BackboneSpec spec)
    {
        if (Problem(spec) is { } problem)
        {
            throw new BackboneWeightsException(problem);
        }

        var entry = Find(spec.Name);
        var backbone = entry.Architecture(spec.Info.InputWidth);
        try
        {
            entry.LoadWeights(backbone, spec);
        }
        catch
        {
            backbone.Dispose();
            throw;
        }

        return backbone;
    }

    /// <summary>The backbone's layers without pretrained weights (for a checkpoint that holds them all), at <paramref name="size"/> or its own size.</summary>
    public static Backbone Architecture(string name, int? size = null)
    {
        var entry = Find(name);
        return entry.Architecture(size ?? entry.Info.InputWidth);
    }

    /// <summary>
    /// Checks an <c>--unfreeze</c> list against <paramref name="name"/>'s blocks. Returns null when every name is one
    /// of them, otherwise a message that names the valid ones.
    /// </summary>
    public static string? UnfreezeProblem(string name, IReadOnlyList<string> blocks)
    {
        var valid = Describe(name).BlockNames;
        var unknown = blocks.Where(b => !valid.Contains(b)).ToList();
        return blocks.Count == 0
            ? $"--unfreeze needs at least one block of {name}: {string.Join(", ", valid)}."
            : unknown.Count == 0
                ? null
                : $"--unfreeze: {name} has no block {string.Join(", ", unknown.Select(u => $"'{u}'"))}. Its blocks, lowest first: {string.Join(", ", valid)}.";
    }

    /// <summary>Files whose content defines the backbone's weights (part of the feature-cache key).</summary>
    public static IReadOnlyList<string> WeightFiles(BackboneSpec spec) => Find(spec.Name).WeightFiles(spec);

    private static BackboneEntry Torchvision(BackboneInfo info, Func<int, TorchvisionBackbone> architecture) => new(
        info,
        architecture,
        NeedsWeightsFile: true,
        (backbone, spec) => ((TorchvisionBackbone)backbone).LoadWeights(spec.WeightsPath!),
        spec => [spec.WeightsPath!]);
}
