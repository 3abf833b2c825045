namespace DogsVsCats.Vision.Trainer.Models;

/// <summary>A backbone by CLI name, and the weights file it loads (torchvision backbones only).</summary>
public sealed record BackboneSpec(string Name, string? WeightsPath = null)
{
    public static BackboneSpec Default { get; } = new(CntkResNet18.BackboneName);
}

/// <summary>Builds backbones by their CLI name with their pretrained weights loaded.</summary>
public static class Backbones
{
    public static IReadOnlyList<string> Names { get; } = [CntkResNet18.BackboneName, TorchvisionResNet50.BackboneName, TorchvisionInceptionV3.BackboneName];

    /// <summary>Folder the build copies the packaged ImageNet models into (beside the program).</summary>
    public static string ModelsDirectory => Path.Combine(AppContext.BaseDirectory, "models");

    public static string ResNet18OnnxPath => Path.Combine(ModelsDirectory, "ResNet18.onnx");

    public static string ResNet18PreprocessOnnxPath => Path.Combine(ModelsDirectory, "ResNetPreprocess.onnx");

    public static BackboneInfo Describe(string name) => name switch
    {
        CntkResNet18.BackboneName => CntkResNet18.Description,
        TorchvisionResNet50.BackboneName => TorchvisionResNet50.Description,
        TorchvisionInceptionV3.BackboneName => TorchvisionInceptionV3.Description,
        _ => throw Unknown(name),
    };

    /// <summary>True for backbones whose weights the user brings with --weights.</summary>
    public static bool NeedsWeightsFile(string name) => name is TorchvisionResNet50.BackboneName or TorchvisionInceptionV3.BackboneName;

    /// <summary>
    /// Checks that <paramref name="spec"/> names a backbone and, where one is needed, an existing weights file
    /// (and none where none is used). Returns null when it is usable, otherwise what to fix.
    /// </summary>
    public static string? Problem(BackboneSpec spec)
    {
        if (!Names.Contains(spec.Name))
        {
            return $"Unknown backbone '{spec.Name}'. Choose one of: {string.Join(", ", Names)}.";
        }

        if (NeedsWeightsFile(spec.Name) && spec.WeightsPath is null)
        {
            return $"--backbone {spec.Name} needs --weights FILE: torchvision's ImageNet {spec.Name} state_dict (.pth or .safetensors). README, 'Other backbones', says where to get it.";
        }

        if (!NeedsWeightsFile(spec.Name) && spec.WeightsPath is not null)
        {
            return $"--weights is for torchvision backbones ({string.Join(", ", Names.Where(NeedsWeightsFile))}); {spec.Name} brings its own ImageNet weights. Drop --weights or choose --backbone resnet50 or inception_v3.";
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

        var backbone = Architecture(spec.Name);
        try
        {
            switch (backbone)
            {
                case CntkResNet18 resnet:
                    resnet.LoadOnnxWeights(ResNet18OnnxPath, ResNet18PreprocessOnnxPath);
                    break;
                case TorchvisionBackbone torchvision:
                    torchvision.LoadWeights(spec.WeightsPath!);
                    break;
            }
        }
        catch
        {
            backbone.Dispose();
            throw;
        }

        return backbone;
    }

    /// <summary>The backbone's layers without pretrained weights (for a checkpoint that holds them all).</summary>
    public static Backbone Architecture(string name) => name switch
    {
        CntkResNet18.BackboneName => new CntkResNet18(),
        TorchvisionResNet50.BackboneName => new TorchvisionResNet50(),
        TorchvisionInceptionV3.BackboneName => new TorchvisionInceptionV3(),
        _ => throw Unknown(name),
    };

    /// <summary>Files whose content defines the backbone's weights (part of the feature-cache key).</summary>
    public static IReadOnlyList<string> WeightFiles(BackboneSpec spec) => spec.Name switch
    {
        CntkResNet18.BackboneName => [ResNet18OnnxPath, ResNet18PreprocessOnnxPath],
        _ when NeedsWeightsFile(spec.Name) && spec.WeightsPath is not null => [spec.WeightsPath],
        _ => throw Unknown(spec.Name),
    };

    private static ArgumentException Unknown(string name) =>
        new($"Unknown backbone '{name}'. Choose one of: {string.Join(", ", Names)}.", nameof(name));
}
