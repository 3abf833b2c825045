namespace DogsVsCats.Vision.Trainer.Data;

/// <summary>Train and validation files of a dataset; labels index <see cref="Classes"/>.</summary>
/// <param name="Layout"><c>class-folders</c> or <c>kaggle-flat</c>.</param>
internal sealed record DatasetSplit(
    IReadOnlyList<string> Classes,
    IReadOnlyList<LabeledFile> Train,
    IReadOnlyList<LabeledFile> Validation,
    bool ExplicitValidation,
    string Layout)
{
    /// <summary>
    /// The first <paramref name="maxTrainPerClass"/> / <paramref name="maxValidationPerClass"/> files of each class, in
    /// list order. The lists are already shuffled by the scanner, so this is a random but repeatable subset.
    /// </summary>
    public DatasetSplit Subsample(int maxTrainPerClass, int maxValidationPerClass)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxTrainPerClass);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxValidationPerClass);
        return this with
        {
            Train = FirstPerClass(Train, maxTrainPerClass),
            Validation = FirstPerClass(Validation, maxValidationPerClass),
        };
    }

    private List<LabeledFile> FirstPerClass(IReadOnlyList<LabeledFile> files, int max)
    {
        var taken = new int[Classes.Count];
        var result = new List<LabeledFile>();
        foreach (var file in files)
        {
            if (taken[file.Label] < max)
            {
                taken[file.Label]++;
                result.Add(file);
            }
        }

        return result;
    }
}
