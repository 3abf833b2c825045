using DogsVsCats.Vision.Trainer.Data;
using static TorchSharp.torch;

namespace DogsVsCats.Vision.Trainer.Training;

/// <summary>Inputs and labels by index: decoded images for strategies that run the backbone, cached vectors for the head alone.</summary>
public interface IBatchSource
{
    int Count { get; }

    IReadOnlyList<int> Labels { get; }

    (Tensor Input, Tensor Labels) Get(ReadOnlySpan<int> indices, bool augment);
}

public sealed class ImageBatchSource(ImageSet images, Device device, Random random) : IBatchSource
{
    public int Count => images.Count;

    public IReadOnlyList<int> Labels => images.Labels;

    public (Tensor Input, Tensor Labels) Get(ReadOnlySpan<int> indices, bool augment)
    {
        var input = Batches.Images(images, indices, device);
        if (augment)
        {
            using var plain = input;
            input = Batches.Augment(plain, random);
        }

        return (input, Batches.Labels(images, indices, device));
    }
}

/// <summary>Pooled backbone features [N, D] held as one tensor.</summary>
public sealed class FeatureBatchSource(Tensor features, int[] labels) : IBatchSource
{
    public int Count => labels.Length;

    public IReadOnlyList<int> Labels => labels;

    public (Tensor Input, Tensor Labels) Get(ReadOnlySpan<int> indices, bool augment)
    {
        var longIndices = new long[indices.Length];
        var batchLabels = new long[indices.Length];
        for (var i = 0; i < indices.Length; i++)
        {
            longIndices[i] = indices[i];
            batchLabels[i] = labels[indices[i]];
        }

        using var index = tensor(longIndices, device: features.device);
        return (features.index_select(0, index), tensor(batchLabels, device: features.device));
    }
}
