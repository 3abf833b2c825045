using System.Diagnostics;
using System.Runtime.ExceptionServices;
using DogsVsCats.Vision.Shared;
using OpenCvSharp;

namespace DogsVsCats.Vision.Realtime.Labelling;

/// <summary>
/// Reads, decodes and resizes folder labelling's chunks on fixed decode threads, so the next chunk is made ready while
/// ONNX Runtime runs the current one. Two blocks of model-sized pixels take turns: the chunk being classified reads one,
/// the chunk after it is written into the other, and a third chunk can only start once the first is done with. So the
/// look-ahead is one chunk and memory holds two chunks of pixels however large the folder is.
/// </summary>
internal sealed class ChunkDecoder : IDisposable
{
    private readonly WorkerThreads threads;
    private readonly Mat[] blocks;
    private readonly int width;
    private readonly int height;
    private int turn;

    /// <param name="threads">Decode threads, at least 1.</param>
    /// <param name="batch">The most photos in a chunk.</param>
    public ChunkDecoder(int threads, int batch, int width, int height)
    {
        (this.width, this.height) = (width, height);
        this.threads = new WorkerThreads(threads, "decode");
        blocks = [new Mat(batch * height, width, MatType.CV_8UC3), new Mat(batch * height, width, MatType.CV_8UC3)];
    }

    /// <summary>Bytes of one resized image: height x width x 3 (BGR).</summary>
    public int ImageBytes => width * height * 3;

    /// <summary>
    /// Starts reading <paramref name="paths"/> into the next block; the task ends when every photo is decoded and resized
    /// (or has its reason not to be). Call again only after the chunk started two calls ago is done with.
    /// </summary>
    public Task<DecodedChunk> Start(string[] paths)
    {
        var block = blocks[turn];
        turn ^= 1;
        var chunk = new DecodedChunk(paths, block, ImageBytes);
        var done = new TaskCompletionSource<DecodedChunk>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (paths.Length == 0)
        {
            done.SetResult(chunk);
            return done.Task;
        }

        var left = paths.Length;
        ExceptionDispatchInfo? error = null;
        for (var i = 0; i < paths.Length; i++)
        {
            var index = i;
            threads.Post(() =>
            {
                try
                {
                    Read(chunk, index);
                }
                catch (Exception e)
                {
                    Interlocked.CompareExchange(ref error, ExceptionDispatchInfo.Capture(e), null);
                }

                if (Interlocked.Decrement(ref left) == 0)
                {
                    if (error is null)
                    {
                        done.SetResult(chunk);
                    }
                    else
                    {
                        done.SetException(error.SourceException);
                    }
                }
            });
        }

        return done.Task;
    }

    /// <summary>Lets the queued photos finish (a chunk still being read writes into a block), then frees the blocks.</summary>
    public void Dispose()
    {
        threads.Dispose();
        foreach (var block in blocks)
        {
            block.Dispose();
        }
    }

    private void Read(DecodedChunk chunk, int i)
    {
        var path = chunk.Paths[i];
        if (!ImageFile.IsImagePath(path))
        {
            chunk.Failed[i] = LabelRow.Failed(path, $"not an image file (extension '{Path.GetExtension(path)}' is not one of {string.Join(", ", ImageFile.Extensions.Order(StringComparer.Ordinal))})");
            return;
        }

        if (!ImageFile.TryRead(path, out var image, out var error))
        {
            chunk.Failed[i] = LabelRow.Failed(path, error);
            return;
        }

        using (image)
        {
            chunk.Sizes[i] = (image.Width, image.Height);
            var start = Stopwatch.GetTimestamp();
            // Straight into the block, through a Mat header over image i's rows: no copy after the resize.
            using var slot = chunk.Block.RowRange(i * height, (i + 1) * height);
            ImagePreprocessing.ResizeInto(image, slot, width, height);
            Interlocked.Add(ref chunk.ResizeTicks, Stopwatch.GetElapsedTime(start).Ticks);
        }
    }
}

/// <summary>
/// One chunk as <see cref="ChunkDecoder"/> left it: each photo resized into its slot of the block (uint8 [N, H, W, 3]
/// BGR, the model's input layout) with its size as read, or the row that says why it could not be read.
/// </summary>
internal sealed class DecodedChunk(string[] paths, Mat block, int imageBytes)
{
    /// <summary>Time spent resizing, summed over the chunk's photos.</summary>
    public long ResizeTicks;

    public string[] Paths { get; } = paths;

    public Mat Block { get; } = block;

    /// <summary>Per photo: null when it was read, else its row with the reason.</summary>
    public LabelRow?[] Failed { get; } = new LabelRow?[paths.Length];

    /// <summary>Per photo read: its width and height as read, before the resize.</summary>
    public (int Width, int Height)[] Sizes { get; } = new (int, int)[paths.Length];

    /// <summary>
    /// Moves the readable photos' pixels to the front of the block, in order, and returns their indices: the first that
    /// many slots are then the batch to classify. Done on the classifying thread, once the chunk is complete.
    /// </summary>
    public int[] Compact()
    {
        var readable = Enumerable.Range(0, Paths.Length).Where(i => Failed[i] is null).ToArray();
        for (var k = 0; k < readable.Length; k++)
        {
            if (readable[k] != k)
            {
                Slot(readable[k]).CopyTo(Slot(k));   // k < readable[k]: a later slot into an earlier, already moved one
            }
        }

        return readable;
    }

    /// <summary>The pixels of the first <paramref name="count"/> slots.</summary>
    public Span<byte> Pixels(int count) => Block.AsSpan<byte>()[..(count * imageBytes)];

    /// <summary>Slot <paramref name="i"/>'s pixels.</summary>
    public Span<byte> Slot(int i) => Block.AsSpan<byte>().Slice(i * imageBytes, imageBytes);
}
