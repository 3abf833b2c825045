using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;
using DogsVsCats.Vision.Shared;

namespace DogsVsCats.Vision.Trainer.Data;

/// <summary>Checks, decodes and resizes image files, skipping (never throwing for) files that cannot be used.</summary>
internal static class ImageLoader
{
    /// <summary>
    /// The files of <paramref name="files"/> that pass <see cref="ImageFile.TryCheck"/> (they open, are not empty, look
    /// like an image, a JPEG is not cut short), without decoding any: each photo is decoded when a pass needs it. The
    /// result keeps input order; each file left out goes to <paramref name="skipped"/>, in input order.
    /// </summary>
    public static ImageSet Check(
        IReadOnlyList<LabeledFile> files,
        int width,
        int height,
        SkipLog skipped,
        IProgress<int>? progress = null,
        int decodeThreads = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);

        var reasons = new string?[files.Count];
        var processed = 0;
        var options = new ParallelOptions { MaxDegreeOfParallelism = decodeThreads <= 0 ? Environment.ProcessorCount : decodeThreads };
        // Small reads only (no decoding, no pixel buffers), so the thread pool's changing threads cost no memory here.
        Parallel.For(0, files.Count, options, i =>
        {
            if (!ImageFile.TryCheck(files[i].Path, out var reason))
            {
                reasons[i] = reason;
            }

            progress?.Report(Interlocked.Increment(ref processed));
        });

        var paths = new List<string>(files.Count);
        var labels = new List<int>(files.Count);
        for (var i = 0; i < files.Count; i++)
        {
            if (reasons[i] is { } reason)
            {
                skipped.Add(new SkippedFile(files[i].Path, reason));
            }
            else
            {
                paths.Add(files[i].Path);
                labels.Add(files[i].Label);
            }
        }

        return new ImageSet { Width = width, Height = height, Paths = paths, Labels = [.. labels], Skipped = skipped, DecodeThreads = decodeThreads };
    }

    /// <summary>
    /// Decodes <paramref name="files"/> into memory, in parallel: for a few hundred photos at most (calibration,
    /// benchmarks); training streams its photos through <see cref="PrefetchDecoder"/>. The result keeps input order minus
    /// the skipped files; each skipped file is added to <paramref name="skipped"/> (in input order) and reported to <paramref name="onSkipped"/> as it is found.
    /// <paramref name="onSkipped"/> calls are serialised, so it may write to a console; <paramref name="progress"/> is
    /// called from worker threads with the number of files processed so far.
    /// </summary>
    public static DecodedImages Load(
        IReadOnlyList<LabeledFile> files,
        int width,
        int height,
        List<SkippedFile> skipped,
        Action<SkippedFile>? onSkipped = null,
        IProgress<int>? progress = null,
        int maxParallelism = -1)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);

        var pixels = new byte[]?[files.Count];
        var reasons = new string?[files.Count];
        var processed = 0;
        var callbackLock = new object();
        var options = new ParallelOptions { MaxDegreeOfParallelism = maxParallelism <= 0 ? Environment.ProcessorCount : maxParallelism };

        Parallel.For(0, files.Count, options, i =>
        {
            var path = files[i].Path;
            var data = new byte[height * width * 3];
            if (TryDecode(path, width, height, data, 0, out var reason))
            {
                pixels[i] = data;
            }
            else
            {
                reasons[i] = reason;
                if (onSkipped is not null)
                {
                    lock (callbackLock)
                    {
                        onSkipped(new SkippedFile(path, reason));
                    }
                }
            }

            progress?.Report(Interlocked.Increment(ref processed));
        });

        var paths = new List<string>(files.Count);
        var labels = new List<int>(files.Count);
        var kept = new List<byte[]>(files.Count);
        for (var i = 0; i < files.Count; i++)
        {
            if (pixels[i] is { } data)
            {
                paths.Add(files[i].Path);
                labels.Add(files[i].Label);
                kept.Add(data);
            }
            else
            {
                skipped.Add(new SkippedFile(files[i].Path, reasons[i]!));
            }
        }

        return new DecodedImages { Width = width, Height = height, Paths = paths, Labels = [.. labels], Pixels = [.. kept] };
    }

    /// <summary>Throws when a class has no images left in <paramref name="set"/>, e.g. because all its files were bad.</summary>
    public static void EnsureEveryClassPresent(ImageSet set, IReadOnlyList<string> classes, string setName)
    {
        var counts = new int[classes.Count];
        foreach (var label in set.Labels)
        {
            counts[label]++;
        }

        var missing = classes.Where((_, label) => counts[label] == 0).Select(c => $"'{c}'").ToList();
        if (missing.Count > 0)
        {
            throw new DatasetException(
                $"The {setName} set has no usable images of class {string.Join(", ", missing)}: every file of it was missing or skipped as unreadable (see the warnings above). " +
                "Replace the bad files with readable images of that class, or remove the class folder.");
        }
    }

    /// <summary>
    /// Decodes <paramref name="path"/> and resizes it with <see cref="ImagePreprocessing.Resize"/> into
    /// <paramref name="destination"/> at <paramref name="offset"/>: Height*Width*3 bytes, BGR, HWC, row-major.
    /// </summary>
    public static bool TryDecode(string path, int width, int height, byte[] destination, int offset, [NotNullWhen(false)] out string? reason)
    {
        if (!ImageFile.TryRead(path, out var bgr, out reason))
        {
            return false;
        }

        using (bgr)
        using (var resized = ImagePreprocessing.Resize(bgr, width, height))
        {
            // A Mat made by Resize is continuous: one block of Height*Width*3 bytes in HWC order.
            Marshal.Copy(resized.Data, destination, offset, height * width * 3);
        }

        return true;
    }
}
