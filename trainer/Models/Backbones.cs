namespace DogsVsCats.Vision.Trainer.Models;

/// <summary>Builds backbones by their CLI name with their pretrained weights loaded.</summary>
public static class Backbones
{
    public static IReadOnlyList<string> Names { get; } = [CntkResNet18.BackboneName];

    /// <summary>Folder the build copies the packaged ImageNet models into (beside the program).</summary>
    public static string ModelsDirectory => Path.Combine(AppContext.BaseDirectory, "models");

    public static string ResNet18OnnxPath => Path.Combine(ModelsDirectory, "ResNet18.onnx");

    public static string ResNet18PreprocessOnnxPath => Path.Combine(ModelsDirectory, "ResNetPreprocess.onnx");

    public static BackboneInfo Describe(string name) => name switch
    {
        CntkResNet18.BackboneName => CntkResNet18.Description,
        _ => throw new ArgumentException($"Unknown backbone '{name}'. Choose one of: {string.Join(", ", Names)}.", nameof(name)),
    };

    public static Backbone Create(string name)
    {
        switch (name)
        {
            case CntkResNet18.BackboneName:
                var resnet = new CntkResNet18();
                resnet.LoadOnnxWeights(ResNet18OnnxPath, ResNet18PreprocessOnnxPath);
                return resnet;
            default:
                throw new ArgumentException($"Unknown backbone '{name}'. Choose one of: {string.Join(", ", Names)}.", nameof(name));
        }
    }

    /// <summary>Files whose content defines the backbone's weights (part of the feature-cache key).</summary>
    public static IReadOnlyList<string> WeightFiles(string name) => name switch
    {
        CntkResNet18.BackboneName => [ResNet18OnnxPath, ResNet18PreprocessOnnxPath],
        _ => throw new ArgumentException($"Unknown backbone '{name}'.", nameof(name)),
    };
}
