using DogsVsCats.Vision.Trainer.Data;
using static TorchSharp.torch;

namespace DogsVsCats.Vision.Trainer.Training;

/// <summary>
/// One step's input [B, ...] and labels [B]; <see cref="Indices"/> are the photos of its B items, as indices into their
/// image set (a photo that could not be read is not among them), <see cref="Attempted"/> counts the order's items it covered.
/// </summary>
internal sealed record Batch(Tensor Input, Tensor Labels, int[] Indices, int Attempted)
{
    public int Count => Indices.Length;
}

/// <summary>Inputs and labels, a pass at a time: streamed photos for strategies that run the backbone, cached vectors for the head alone.</summary>
internal interface IBatchSource
{
    int Count { get; }

    /// <summary>
    /// The batches of one pass over <paramref name="order"/> (indices into the source), in that order, augmented by
    /// draws from <paramref name="augment"/> (null: as they are). A batch's tensors are disposed when the next one is
    /// requested: copy what must outlive the step. A photo that can no longer be read is left out (the batch is one
    /// smaller) and recorded in the set's skipped files.
    /// </summary>
    IEnumerable<Batch> Read(IReadOnlyList<int> order, int batchSize, Random? augment);
}

/// <summary>Photos decoded as the pass reaches them, a few batches ahead (<see cref="PrefetchDecoder"/>), never all held.</summary>
internal sealed class ImageBatchSource(ImageSet images, Device device) : IBatchSource
{
    public int Count => images.Count;

    public IEnumerable<Batch> Read(IReadOnlyList<int> order, int batchSize, Random? augment)
    {
        // Threads for this pass only: between passes (and strategies) nothing decoded is held.
        using var decoder = new PrefetchDecoder(images.DecodeThreads);
        foreach (var decoded in decoder.Read(images, order, batchSize))
        {
            if (decoded.Count == 0)
            {
                continue;
            }

            var input = Batches.Images(decoded.Pixels, decoded.Count, images.Width, images.Height, device);
            if (augment is not null)
            {
                using var plain = input;
                input = Batches.Augment(plain, augment);
            }

            var labels = Batches.Labels(images.Labels, decoded.Indices, device);
            try
            {
                yield return new Batch(input, labels, decoded.Indices, decoded.Attempted);
            }
            finally
            {
                input.Dispose();
                labels.Dispose();
            }
        }
    }
}

/// <summary>
/// Pooled backbone features [N, D] held as one tensor. <paramref name="photos"/>: the photo (index into its image set)
/// of each row, when photos were left out during extraction; null: row i is photo i. A batch's indices are photos, so
/// what is said of a row is said of its own photo.
/// </summary>
internal sealed class FeatureBatchSource(Tensor features, int[] labels, int[]? photos = null) : IBatchSource
{
    public int Count => labels.Length;

    public IEnumerable<Batch> Read(IReadOnlyList<int> order, int batchSize, Random? augment)
    {
        for (var start = 0; start < order.Count; start += batchSize)
        {
            var count = Math.Min(batchSize, order.Count - start);
            var items = new int[count];
            var indices = new long[count];
            var batchLabels = new long[count];
            for (var i = 0; i < count; i++)
            {
                items[i] = order[start + i];
                indices[i] = items[i];
                batchLabels[i] = labels[items[i]];
            }

            Tensor input, target;
            using (var index = tensor(indices, device: features.device))
            {
                input = features.index_select(0, index);
                target = tensor(batchLabels, device: features.device);
            }

            try
            {
                yield return new Batch(input, target, photos is null ? items : [.. items.Select(i => photos[i])], count);
            }
            finally
            {
                input.Dispose();
                target.Dispose();
            }
        }
    }
}
