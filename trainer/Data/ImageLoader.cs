using System.Runtime.InteropServices;
using DogsVsCats.Vision.Shared;

namespace DogsVsCats.Vision.Trainer.Data;

/// <summary>Decodes and resizes image files into memory, skipping (never throwing for) files that cannot be used.</summary>
public static class ImageLoader
{
    /// <summary>
    /// Loads <paramref name="files"/> in parallel. The result keeps input order minus the skipped files; each skipped file
    /// is added to <paramref name="skipped"/> (in input order) and reported to <paramref name="onSkipped"/> as it is found.
    /// <paramref name="onSkipped"/> calls are serialised, so it may write to a console; <paramref name="progress"/> is
    /// called from worker threads with the number of files processed so far.
    /// </summary>
    public static ImageSet Load(
        IReadOnlyList<LabeledFile> files,
        int width,
        int height,
        List<SkippedFile> skipped,
        Action<SkippedFile>? onSkipped = null,
        IProgress<int>? progress = null,
        int maxParallelism = -1)
    {
        ArgumentNullException.ThrowIfNull(files);
        ArgumentNullException.ThrowIfNull(skipped);
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
            if (TryLoad(path, width, height, out var data, out var reason))
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

        return new ImageSet { Width = width, Height = height, Paths = paths, Labels = [.. labels], Pixels = [.. kept] };
    }

    /// <summary>Throws when a class has no images left in <paramref name="set"/>, e.g. because all its files were bad.</summary>
    public static void EnsureEveryClassPresent(ImageSet set, IReadOnlyList<string> classes, string setName)
    {
        ArgumentNullException.ThrowIfNull(set);
        ArgumentNullException.ThrowIfNull(classes);
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

    private static bool TryLoad(string path, int width, int height, out byte[]? data, out string reason)
    {
        data = null;
        if (!ImageFile.TryRead(path, out var bgr, out var error))
        {
            reason = error;
            return false;
        }

        using (bgr)
        using (var resized = ImagePreprocessing.Resize(bgr, width, height))
        {
            // A Mat made by Resize is continuous: one block of Height*Width*3 bytes in HWC order.
            data = new byte[height * width * 3];
            Marshal.Copy(resized.Data, data, 0, data.Length);
        }

        reason = string.Empty;
        return true;
    }
}
