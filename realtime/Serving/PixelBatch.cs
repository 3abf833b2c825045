using System.Buffers;
using System.Text.Json;
using DogsVsCats.Vision.Shared;
using Microsoft.AspNetCore.Http;
using OpenCvSharp;

namespace DogsVsCats.Vision.Realtime.Serving;

/// <summary>
/// One request's images as the model's input, uint8 [N, H, W, 3] BGR at the model's size, with each image's size as
/// received. Encoded photos are decoded and resized here, on the request's thread (so decoding runs in parallel
/// across requests, and the batcher only copies bytes); a tensor already at the model's size is used where it lies.
/// </summary>
internal sealed class PixelBatch : IDisposable
{
    /// <summary>
    /// The most pixels a photo may declare: above any phone camera's 48 MP, and a bound on what one decode allocates
    /// (150 MB), checked in the header before decoding.
    /// </summary>
    public const long MaxPixels = 50_000_000;

    private byte[]? pooled;

    private PixelBatch(ReadOnlyMemory<byte> pixels, int count, IReadOnlyList<Size> sizes, byte[]? pooled) =>
        (Pixels, Count, Sizes, this.pooled) = (pixels, count, sizes, pooled);

    public ReadOnlyMemory<byte> Pixels { get; }

    public int Count { get; }

    /// <summary>Each image's size as received, before the resize.</summary>
    public IReadOnlyList<Size> Sizes { get; }

    /// <summary>Photos (JPEG, PNG, WebP, BMP bytes) decoded and resized by the model's own rule.</summary>
    /// <param name="what">How an error names an element ("image 2" or "file 'cat.jpg'").</param>
    public static PixelBatch FromPhotos(IReadOnlyList<ReadOnlyMemory<byte>> photos, ModelDescription model, Func<int, string> what)
    {
        var imageBytes = model.InputWidth * model.InputHeight * 3;
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(1, photos.Count * imageBytes));
        try
        {
            var sizes = new Size[photos.Count];
            for (var i = 0; i < photos.Count; i++)
            {
                if (!ImageFile.TryDecode(photos[i].Span, MaxPixels, out var bgr, out var error))
                {
                    throw new ProtocolException(StatusCodes.Status400BadRequest, $"{what(i)}: {error}. Send JPEG, PNG, WebP or BMP bytes.");
                }

                using (bgr)
                {
                    sizes[i] = bgr.Size();
                    using var view = ImagePreprocessing.Resize(bgr, model.InputWidth, model.InputHeight);
                    view.AsSpan<byte>().CopyTo(buffer.AsSpan(i * imageBytes, imageBytes));
                }
            }

            return new PixelBatch(buffer.AsMemory(0, photos.Count * imageBytes), photos.Count, sizes, buffer);
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(buffer);
            throw;
        }
    }

    /// <summary>A uint8 tensor already at the model's size; its bytes are used in place (they belong to the request body).</summary>
    public static PixelBatch FromTensor(ReadOnlyMemory<byte> pixels, int count, ModelDescription model)
    {
        return new PixelBatch(pixels, count, ModelSized(model, count), pooled: null);
    }

    /// <summary>A uint8 tensor sent as JSON numbers (flat, as tritonclient sends them, or nested by row).</summary>
    public static PixelBatch FromJson(JsonElement data, int count, ModelDescription model)
    {
        var length = count * model.InputWidth * model.InputHeight * 3;
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(1, length));
        try
        {
            var written = 0;
            Flatten(data, buffer.AsSpan(0, length), ref written);
            if (written != length)
            {
                throw new ProtocolException(StatusCodes.Status400BadRequest, $"input 'image' has {written} values in 'data'; its shape says {length}.");
            }

            return new PixelBatch(buffer.AsMemory(0, length), count, ModelSized(model, count), buffer);
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(buffer);
            throw;
        }
    }

    public void Dispose()
    {
        if (pooled is not null)
        {
            ArrayPool<byte>.Shared.Return(pooled);
            pooled = null;
        }
    }

    /// <summary>The sizes of images that arrived already at the model's size.</summary>
    private static Size[] ModelSized(ModelDescription model, int count) => Enumerable.Repeat(new Size(model.InputWidth, model.InputHeight), count).ToArray();

    private static void Flatten(JsonElement element, Span<byte> into, ref int written)
    {
        if (element.ValueKind == JsonValueKind.Array)
        {
            foreach (var item in element.EnumerateArray())
            {
                Flatten(item, into, ref written);
            }

            return;
        }

        if (element.ValueKind != JsonValueKind.Number || !element.TryGetByte(out var value))
        {
            throw new ProtocolException(StatusCodes.Status400BadRequest, $"input 'image' (UINT8) value {written} is {element.GetRawText()}; each must be an integer 0-255.");
        }

        if (written == into.Length)
        {
            throw new ProtocolException(StatusCodes.Status400BadRequest, $"input 'image' has more values in 'data' than its shape says ({into.Length}).");
        }

        into[written++] = value;
    }
}
