using DogsVsCats.Vision.Shared;

namespace DogsVsCats.Vision.Trainer.Data;

/// <summary>
/// Finds labelled images under a root folder and splits them into train and validation sets.
/// Accepted layouts: class-per-folder (<c>root/&lt;class&gt;/**/*.jpg</c>), Kaggle flat (<c>root/cat.0.jpg</c>), and
/// either of those under <c>root/train</c> + <c>root/val</c> (or <c>root/validation</c>) for an explicit split.
/// Only paths are collected here; <see cref="ImageLoader.Check"/> leaves out files that cannot be images, and a pass
/// that cannot decode a photo skips it then.
/// </summary>
internal static class DatasetScanner
{
    public const string ClassFoldersLayout = "class-folders";
    public const string KaggleFlatLayout = "kaggle-flat";

    /// <summary>Of each class, the share held out for validation when no val/ folder exists.</summary>
    public const double DefaultValidationFraction = 0.2;

    public static DatasetSplit Scan(string root, double validationFraction = DefaultValidationFraction, int seed = 42)
    {
        if (!(validationFraction > 0 && validationFraction < 1))
        {
            throw new DatasetException(
                $"The validation fraction must be between 0 and 1 (exclusive), got {validationFraction}. Use e.g. 0.2 to keep 20 % of each class for validation.");
        }

        var fullRoot = Path.GetFullPath(root);
        if (File.Exists(fullRoot))
        {
            throw new DatasetException(
                $"The dataset path '{fullRoot}' is a file, not a folder. Pass the folder that holds one sub-folder per class (e.g. cat/ and dog/).");
        }

        if (!Directory.Exists(fullRoot))
        {
            throw new DatasetException(
                $"The dataset folder '{fullRoot}' does not exist. Check the path, or create it with one sub-folder of images per class (e.g. cat/ and dog/).");
        }

        var trainDir = Path.Combine(fullRoot, "train");
        var valDirs = ValidationFolderNames.Select(n => Path.Combine(fullRoot, n)).Where(Directory.Exists).ToList();
        if (Directory.Exists(trainDir) && valDirs.Count > 1)
        {
            throw new DatasetException(
                $"'{fullRoot}' has both val/ and validation/; it is not clear which is the validation set. Keep one of them.");
        }

        if (Directory.Exists(trainDir) && valDirs.Count == 1)
        {
            return ScanExplicit(trainDir, valDirs[0], seed);
        }

        // A Kaggle download has train/ (labelled) beside test1/ (unlabelled): use train/ and split it.
        var source = Directory.Exists(trainDir) ? trainDir : fullRoot;
        var scanned = ScanFolder(source);
        var (train, validation) = Split(scanned, validationFraction, seed);
        return new DatasetSplit(scanned.Classes, train, validation, ExplicitValidation: false, scanned.Layout);
    }

    private static DatasetSplit ScanExplicit(string trainDir, string valDir, int seed)
    {
        var train = ScanFolder(trainDir);
        var val = ScanFolder(valDir);
        if (!train.Classes.SequenceEqual(val.Classes, StringComparer.Ordinal))
        {
            throw new DatasetException(
                $"The classes of '{trainDir}' ({string.Join(", ", train.Classes)}) and '{valDir}' ({string.Join(", ", val.Classes)}) differ. " +
                "Give both folders the same class names, or remove the validation folder to have one split off the training data.");
        }

        // Labels come from names, so train/ and val/ may differ in layout; the train layout is the one reported.
        return new DatasetSplit(train.Classes, Shuffle(train, seed), Shuffle(val, seed), ExplicitValidation: true, train.Layout);
    }

    private sealed record ScannedFolder(string Root, string Layout, IReadOnlyList<string> Classes, IReadOnlyList<List<string>> FilesPerClass);

    private static ScannedFolder ScanFolder(string dir)
    {
        var classDirs = Directory.EnumerateDirectories(dir)
            .Where(d => !IsIgnoredFolder(Path.GetFileName(d)))
            .OrderBy(d => Path.GetFileName(d), StringComparer.Ordinal)
            .ToList();

        if (classDirs.Count > 0)
        {
            var classes = classDirs.Select(d => Path.GetFileName(d)).ToList();
            RequireTwoClasses(dir, classes, "class sub-folders");
            var files = new List<List<string>>();
            foreach (var classDir in classDirs)
            {
                var images = Directory.EnumerateFiles(classDir, "*", SearchOption.AllDirectories)
                    .Where(ImageFile.IsImagePath)
                    .Where(p => !IsUnderIgnoredFolder(classDir, p))
                    .OrderBy(p => p, StringComparer.Ordinal)
                    .ToList();
                if (images.Count == 0)
                {
                    throw new DatasetException(
                        $"The class folder '{classDir}' has no image files ({string.Join(" ", ImageFile.Extensions.Order(StringComparer.Ordinal))}). " +
                        "Add images of that class, or move the folder out of the dataset folder.");
                }

                files.Add(images);
            }

            return new ScannedFolder(dir, ClassFoldersLayout, classes, files);
        }

        var flat = Directory.EnumerateFiles(dir).Where(ImageFile.IsImagePath).ToList();
        if (flat.Count == 0)
        {
            throw new DatasetException(
                $"'{dir}' has no class sub-folders and no image files. Put the images in one sub-folder per class (e.g. cat/ and dog/), " +
                "or name them <class>.<id>.jpg in one folder (Kaggle layout).");
        }

        var groups = flat
            .GroupBy(p => ClassOfFlatFile(Path.GetFileName(p)), StringComparer.Ordinal)
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .ToList();
        var flatClasses = groups.Select(g => g.Key).ToList();
        RequireTwoClasses(dir, flatClasses, "class name prefixes (<class>.<id>.jpg)");
        var flatFiles = groups.Select(g => g.OrderBy(p => p, StringComparer.Ordinal).ToList()).ToList();
        return new ScannedFolder(dir, KaggleFlatLayout, flatClasses, flatFiles);
    }

    private static string ClassOfFlatFile(string fileName)
    {
        var dot = fileName.IndexOf('.', StringComparison.Ordinal);
        return dot < 0 ? fileName : fileName[..dot];
    }

    // Hidden folders (.git, .ipynb_checkpoints) and macOS zip debris are never classes.
    /// <summary>Folder names, beside train/, of an explicit validation split.</summary>
    private static readonly string[] ValidationFolderNames = ["val", "validation"];

    private static bool IsIgnoredFolder(string name) => name.StartsWith('.') || name == "__MACOSX";

    private static bool IsUnderIgnoredFolder(string classDir, string path)
    {
        var relative = Path.GetRelativePath(classDir, Path.GetDirectoryName(path)!);
        return relative != "." && relative.Split(Path.DirectorySeparatorChar).Any(IsIgnoredFolder);
    }

    private static void RequireTwoClasses(string dir, List<string> classes, string what)
    {
        if (classes.Count < 2)
        {
            throw new DatasetException(
                $"'{dir}' has {classes.Count} class ({string.Join(", ", classes.Select(c => $"'{c}'"))}) found from {what}; at least two are needed. " +
                "Add a sub-folder of images for every other class (e.g. cat/ and dog/).");
        }
    }

    private static (List<LabeledFile> Train, List<LabeledFile> Validation) Split(ScannedFolder scanned, double fraction, int seed)
    {
        var train = new List<LabeledFile>();
        var validation = new List<LabeledFile>();
        for (var label = 0; label < scanned.Classes.Count; label++)
        {
            var files = scanned.FilesPerClass[label].ToArray();
            if (files.Length < 2)
            {
                throw new DatasetException(
                    $"Class '{scanned.Classes[label]}' in '{scanned.Root}' has only {files.Length} image; at least 2 are needed to split it into train and validation. " +
                    "Add more images of that class, or give an explicit val/ folder.");
            }

            Shuffle(files, new Random(seed));
            // Stratified: every class keeps the same fraction, with at least one image on each side.
            var count = (int)Math.Round(files.Length * fraction, MidpointRounding.AwayFromZero);
            count = Math.Clamp(count, 1, files.Length - 1);
            validation.AddRange(files.Take(count).Select(p => new LabeledFile(p, label)));
            train.AddRange(files.Skip(count).Select(p => new LabeledFile(p, label)));
        }

        return (Mixed(train, seed), Mixed(validation, seed));
    }

    private static List<LabeledFile> Shuffle(ScannedFolder scanned, int seed)
    {
        var all = new List<LabeledFile>();
        for (var label = 0; label < scanned.Classes.Count; label++)
        {
            var files = scanned.FilesPerClass[label].ToArray();
            Shuffle(files, new Random(seed));
            all.AddRange(files.Select(p => new LabeledFile(p, label)));
        }

        return Mixed(all, seed);
    }

    // Classes are interleaved so that a prefix of a list (a first batch, a quick look) holds a mix of classes.
    private static List<LabeledFile> Mixed(List<LabeledFile> files, int seed)
    {
        var array = files.ToArray();
        Shuffle(array, new Random(seed));
        return [.. array];
    }

    private static void Shuffle<T>(T[] items, Random random)
    {
        // Fisher-Yates; written out rather than Random.Shuffle so the order is pinned by this code, not the runtime.
        for (var i = items.Length - 1; i > 0; i--)
        {
            var j = random.Next(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }
}
