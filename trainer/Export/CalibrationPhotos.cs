using DogsVsCats.Vision.Shared;
using DogsVsCats.Vision.Trainer.Data;

namespace DogsVsCats.Vision.Trainer.Export;

/// <summary>The photos an int8 model is calibrated on: training photos only, evenly spread, decoded at the model's size.</summary>
internal static class CalibrationPhotos
{
    /// <summary>
    /// Calibration photos from a folder: when it is a labelled dataset (as <c>trainer train</c> reads it), only its
    /// training split (validation fraction 0.2, seed 42, as <c>train</c>'s defaults) so accuracy measured on the
    /// validation split stays honest; otherwise every photo under it. Evenly spaced, at most <paramref name="count"/>.
    /// </summary>
    public static IReadOnlyList<byte[]> Load(string folder, int width, int height, int count)
    {
        var full = Path.GetFullPath(folder);
        if (!Directory.Exists(full))
        {
            throw new ExportException($"The calibration folder '{full}' does not exist. Pass a folder of training photos with --calibration.");
        }

        IReadOnlyList<string> files;
        try
        {
            files = [.. DatasetScanner.Scan(full).Train.Select(f => f.Path)];
        }
        catch (DatasetException)
        {
            files = [.. Directory.EnumerateFiles(full, "*", SearchOption.AllDirectories).Where(ImageFile.IsImagePath).Order(StringComparer.Ordinal)];
        }

        var photos = Decode(files, width, height, count);
        if (photos.Count == 0)
        {
            throw new ExportException($"No readable photo in '{full}' ({files.Count} image file(s) tried): int8 calibration needs a few hundred training photos (.jpg, .png, ...).");
        }

        return photos;
    }

    /// <summary>
    /// At most <paramref name="count"/> of <paramref name="paths"/>, evenly spaced, decoded and resized (unreadable ones
    /// left out): the only photos calibration holds in memory.
    /// </summary>
    public static IReadOnlyList<byte[]> Decode(IReadOnlyList<string> paths, int width, int height, int count)
    {
        var chosen = EvenlySpaced(paths, count).Select(p => new LabeledFile(p, 0)).ToList();
        return ImageLoader.Load(chosen, width, height, []).Pixels;
    }

    /// <summary>At most <paramref name="count"/> items spread evenly over <paramref name="items"/>, in order.</summary>
    public static IReadOnlyList<T> EvenlySpaced<T>(IReadOnlyList<T> items, int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        return items.Count <= count ? items : [.. Enumerable.Range(0, count).Select(i => items[(int)((long)i * items.Count / count)])];
    }
}
