using DogsVsCats.Vision.Trainer.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace DogsVsCats.Vision.Trainer.Training;

/// <summary>Turns decoded images into input tensors, with the train-time augmentation.</summary>
internal static class Batches
{
    /// <summary>Float BGR 0..255 [B, 3, H, W] on <paramref name="device"/> for the images at <paramref name="indices"/>.</summary>
    public static Tensor Images(DecodedImages set, ReadOnlySpan<int> indices, Device device)
    {
        var plane = set.Width * set.Height * 3;
        var bytes = new byte[indices.Length * plane];
        for (var i = 0; i < indices.Length; i++)
        {
            set.Pixels[indices[i]].CopyTo(bytes, i * plane);
        }

        return Images(bytes, indices.Length, set.Width, set.Height, device);
    }

    /// <summary>Float BGR 0..255 [B, 3, H, W] on <paramref name="device"/> from <paramref name="count"/> images back to back in <paramref name="pixels"/> (uint8 BGR HWC each).</summary>
    public static Tensor Images(byte[] pixels, int count, int width, int height, Device device)
    {
        using var scope = NewDisposeScope();
        // [B, H, W, 3] uint8; the buffer may be longer than the batch (a decoder's reused one).
        var nhwc = tensor(pixels, [pixels.Length]).narrow(0, 0, (long)count * height * width * 3).view(count, height, width, 3);
        var nchw = nhwc.to(device).permute(0, 3, 1, 2).to_type(ScalarType.Float32).contiguous();
        return nchw.MoveToOuterDisposeScope();
    }

    public static Tensor Labels(IReadOnlyList<int> labelsOf, ReadOnlySpan<int> indices, Device device)
    {
        var labels = new long[indices.Length];
        for (var i = 0; i < indices.Length; i++)
        {
            labels[i] = labelsOf[indices[i]];
        }

        return tensor(labels, device: device);
    }

    /// <summary>
    /// Random horizontal flip and a random crop of 80-100 % of each side, resized back to the input size: the
    /// augmentation only strategies that see pixels every epoch (frozen, finetune) can use.
    /// </summary>
    public static Tensor Augment(Tensor images, Random random)
    {
        using var scope = NewDisposeScope();
        var height = images.shape[2];
        var width = images.shape[3];
        var samples = new List<Tensor>((int)images.shape[0]);
        for (var i = 0L; i < images.shape[0]; i++)
        {
            var image = images[i].unsqueeze(0);                       // [1, 3, H, W]
            if (random.NextDouble() < 0.5)
            {
                image = image.flip(3);
            }

            var cropHeight = (long)Math.Round(height * (0.8 + (0.2 * random.NextDouble())));
            var cropWidth = (long)Math.Round(width * (0.8 + (0.2 * random.NextDouble())));
            var top = random.NextInt64(height - cropHeight + 1);
            var left = random.NextInt64(width - cropWidth + 1);
            image = image[.., .., TensorIndex.Slice(top, top + cropHeight), TensorIndex.Slice(left, left + cropWidth)];
            image = nn.functional.interpolate(image, [height, width], mode: InterpolationMode.Bilinear, align_corners: false);
            samples.Add(image);
        }

        return cat(samples, 0).MoveToOuterDisposeScope();
    }

    /// <summary>Index order for one epoch (seeded, so a run can be repeated).</summary>
    public static int[] Shuffled(int count, Random random)
    {
        var order = Enumerable.Range(0, count).ToArray();
        random.Shuffle(order);
        return order;
    }
}
