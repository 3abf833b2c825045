using DogsVsCats.Vision.Shared;
using DogsVsCats.Vision.Trainer.Data;

namespace DogsVsCats.Vision.Tests.Data;

[Trait("Category", "Fast")]
public sealed class DatasetScannerTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void Scan_RealClassFolders_SortsClassesAndSplitsTwentyPercentPerClass()
    {
        var split = DatasetScanner.Scan(TestData.DogsVsCatsRoot);

        Assert.Equal(["cat", "dog"], split.Classes);
        Assert.Equal(DatasetScanner.ClassFoldersLayout, split.Layout);
        Assert.False(split.ExplicitValidation);
        foreach (var (className, label) in new[] { ("cat", 0), ("dog", 1) })
        {
            // Counted from the folder, so the test holds for any copy of the data: a fifth of each class, rounded.
            var photos = Directory.EnumerateFiles(Path.Combine(TestData.DogsVsCatsRoot, className)).Count(ImageFile.IsImagePath);
            var validation = (int)Math.Round(photos * 0.2, MidpointRounding.AwayFromZero);
            Assert.Equal(validation, split.Validation.Count(f => f.Label == label));
            Assert.Equal(photos - validation, split.Train.Count(f => f.Label == label));
        }

        Assert.Empty(split.Train.Select(f => f.Path).Intersect(split.Validation.Select(f => f.Path)));
        Assert.All(split.Train.Concat(split.Validation), f => Assert.Equal(split.Classes[f.Label], Path.GetFileName(Path.GetDirectoryName(f.Path))));
    }

    [Fact]
    public void Scan_SameSeedTwice_ReturnsSameSplit()
    {
        var first = DatasetScanner.Scan(TestData.DogsVsCatsRoot, 0.2, seed: 42);
        var second = DatasetScanner.Scan(TestData.DogsVsCatsRoot, 0.2, seed: 42);

        Assert.Equal(first.Train, second.Train);
        Assert.Equal(first.Validation, second.Validation);
    }

    [Fact]
    public void Scan_DifferentSeed_ChangesSplit()
    {
        var first = DatasetScanner.Scan(TestData.DogsVsCatsRoot, 0.2, seed: 42);
        var other = DatasetScanner.Scan(TestData.DogsVsCatsRoot, 0.2, seed: 7);

        Assert.NotEqual(first.Validation.Select(f => f.Path).Order(), other.Validation.Select(f => f.Path).Order());
    }

    [Fact]
    public void Scan_KaggleFlatLayout_TakesClassFromFileNamePrefix()
    {
        TestData.CopyFlat(_temp.Path, 5);
        File.WriteAllText(Path.Combine(_temp.Path, "readme.txt"), "not an image");

        var split = DatasetScanner.Scan(_temp.Path);

        Assert.Equal(DatasetScanner.KaggleFlatLayout, split.Layout);
        Assert.Equal(["cat", "dog"], split.Classes);
        Assert.Equal(10, split.Train.Count + split.Validation.Count);
        Assert.Equal(1, split.Validation.Count(f => f.Label == 0));
        Assert.All(split.Train.Concat(split.Validation), f => Assert.StartsWith(split.Classes[f.Label] + ".", Path.GetFileName(f.Path), StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("val")]
    [InlineData("validation")]
    public void Scan_ExplicitValidationFolder_UsesItAsIs(string validationName)
    {
        TestData.CopyClassFolders(Path.Combine(_temp.Path, "train"), 4);
        TestData.CopyClassFolders(Path.Combine(_temp.Path, validationName), 3);

        var split = DatasetScanner.Scan(_temp.Path);

        Assert.True(split.ExplicitValidation);
        Assert.Equal(["cat", "dog"], split.Classes);
        Assert.Equal(8, split.Train.Count);
        Assert.Equal(6, split.Validation.Count);
        Assert.All(split.Validation, f => Assert.Contains($"{Path.DirectorySeparatorChar}{validationName}{Path.DirectorySeparatorChar}", f.Path, StringComparison.Ordinal));
    }

    [Fact]
    public void Scan_TrainFolderWithoutValidation_SplitsTrainAndIgnoresSiblings()
    {
        // Kaggle's download: train/ is labelled, test1/ is not; the split comes from train/ alone.
        TestData.CopyFlat(Path.Combine(_temp.Path, "train"), 5);
        TestData.CopyFlat(Path.Combine(_temp.Path, "test1"), 2);

        var split = DatasetScanner.Scan(_temp.Path);

        Assert.False(split.ExplicitValidation);
        Assert.Equal(DatasetScanner.KaggleFlatLayout, split.Layout);
        Assert.Equal(10, split.Train.Count + split.Validation.Count);
        Assert.All(split.Train.Concat(split.Validation), f => Assert.Contains($"{Path.DirectorySeparatorChar}train{Path.DirectorySeparatorChar}", f.Path, StringComparison.Ordinal));
    }

    [Fact]
    public void Scan_ExplicitValidationWithOtherClasses_ThrowsNamingBoth()
    {
        TestData.CopyClassFolders(Path.Combine(_temp.Path, "train"), 2);
        TestData.CopyClassFolders(Path.Combine(_temp.Path, "val"), 2, "cat", "fox");

        var ex = Assert.Throws<DatasetException>(() => DatasetScanner.Scan(_temp.Path));

        Assert.Contains("cat, dog", ex.Message, StringComparison.Ordinal);
        Assert.Contains("cat, fox", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Scan_ThreeClasses_LabelsFollowOrdinalFolderOrder()
    {
        TestData.CopyClassFolders(_temp.Path, 5, "fox", "dog", "cat");

        var split = DatasetScanner.Scan(_temp.Path);

        Assert.Equal(["cat", "dog", "fox"], split.Classes);
        Assert.Equal([1, 1, 1], Enumerable.Range(0, 3).Select(label => split.Validation.Count(f => f.Label == label)));
        Assert.All(split.Train, f => Assert.Equal(split.Classes[f.Label], Path.GetFileName(Path.GetDirectoryName(f.Path))));
    }

    [Fact]
    public void Scan_NonImageFiles_AreIgnored()
    {
        TestData.CopyClassFolders(_temp.Path, 5);
        File.WriteAllText(Path.Combine(_temp.Path, "cat", "notes.txt"), "x");
        File.WriteAllText(Path.Combine(_temp.Path, "dog", ".DS_Store"), "x");
        Directory.CreateDirectory(Path.Combine(_temp.Path, ".thumbnails"));

        var split = DatasetScanner.Scan(_temp.Path);

        Assert.Equal(["cat", "dog"], split.Classes);
        Assert.Equal(10, split.Train.Count + split.Validation.Count);
    }

    [Fact]
    public void Scan_MissingFolder_ThrowsSayingItDoesNotExist()
    {
        var missing = Path.Combine(_temp.Path, "nope");

        var ex = Assert.Throws<DatasetException>(() => DatasetScanner.Scan(missing));

        Assert.Contains(missing, ex.Message, StringComparison.Ordinal);
        Assert.Contains("does not exist", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Scan_RootIsAFile_ThrowsSayingItIsNotAFolder()
    {
        var file = Path.Combine(_temp.Path, "data.jpg");
        File.WriteAllText(file, "x");

        var ex = Assert.Throws<DatasetException>(() => DatasetScanner.Scan(file));

        Assert.Contains("not a folder", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Scan_OneClassOnly_ThrowsNamingTheClassFound()
    {
        TestData.CopyClassFolders(_temp.Path, 3, "cat");

        var ex = Assert.Throws<DatasetException>(() => DatasetScanner.Scan(_temp.Path));

        Assert.Contains("'cat'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("at least two", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Scan_EmptyClassFolder_ThrowsNamingTheFolder()
    {
        TestData.CopyClassFolders(_temp.Path, 3);
        var empty = Path.Combine(_temp.Path, "fox");
        Directory.CreateDirectory(empty);
        File.WriteAllText(Path.Combine(empty, "readme.txt"), "no images here");

        var ex = Assert.Throws<DatasetException>(() => DatasetScanner.Scan(_temp.Path));

        Assert.Contains(empty, ex.Message, StringComparison.Ordinal);
        Assert.Contains("no image files", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(1.0)]
    [InlineData(-0.1)]
    [InlineData(double.NaN)]
    public void Scan_ValidationFractionOutsideZeroOne_Throws(double fraction)
    {
        var ex = Assert.Throws<DatasetException>(() => DatasetScanner.Scan(TestData.DogsVsCatsRoot, fraction));

        Assert.Contains("between 0 and 1", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Subsample_TwoPerClass_KeepsFirstTwoOfEachClassInOrder()
    {
        var split = DatasetScanner.Scan(TestData.DogsVsCatsRoot);

        var small = split.Subsample(2, 1);

        Assert.Equal(4, small.Train.Count);
        Assert.Equal(2, small.Validation.Count);
        Assert.Equal(split.Train.Where(f => f.Label == 0).Take(2), small.Train.Where(f => f.Label == 0));
        Assert.Equal(split.Validation.Where(f => f.Label == 1).Take(1), small.Validation.Where(f => f.Label == 1));
        Assert.Equal(split.Classes, small.Classes);
    }
}
