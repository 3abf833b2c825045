namespace DogsVsCats.Vision.Trainer.Results;

/// <summary>
/// One model's logits on every validation photo, [N, C] row-major, with each photo's true class and file: what
/// test-time augmentation, temperature, ensembles and the bootstrap are measured on, without running the model again.
/// </summary>
internal sealed record ValidationPredictions
{
    public ValidationPredictions(float[] logits, int classes, int[] truth, IReadOnlyList<string> paths)
    {
        if (classes < 2 || logits.Length != truth.Length * classes || paths.Count != truth.Length)
        {
            throw new ArgumentException($"{logits.Length} logits, {classes} classes, {truth.Length} labels and {paths.Count} paths do not make [N, C] predictions.", nameof(logits));
        }

        (Logits, Classes, Truth, Paths) = (logits, classes, truth, paths);
    }

    /// <summary>[N, C], row-major.</summary>
    public float[] Logits { get; }

    public int Classes { get; }

    public int[] Truth { get; }

    public IReadOnlyList<string> Paths { get; }

    public int Count => Truth.Length;

    public ReadOnlySpan<float> Row(int photo) => Logits.AsSpan(photo * Classes, Classes);

    /// <summary>
    /// Every set cut to the photos all of them scored, in each one's own order (the validation order for all): a photo
    /// that turned unreadable between two passes must not pair one model's answer with another's for a different photo.
    /// </summary>
    public static IReadOnlyList<ValidationPredictions> Common(IReadOnlyList<ValidationPredictions> sets)
    {
        if (sets.Count == 0)
        {
            return sets;
        }

        var common = new HashSet<string>(sets[0].Paths);
        foreach (var set in sets.Skip(1))
        {
            common.IntersectWith(set.Paths);
        }

        return [.. sets.Select(set => set.Count == common.Count ? set : set.Only(common))];
    }

    private ValidationPredictions Only(HashSet<string> keep)
    {
        var rows = Enumerable.Range(0, Count).Where(i => keep.Contains(Paths[i])).ToArray();
        return new ValidationPredictions(
            [.. rows.SelectMany(i => Logits.AsSpan(i * Classes, Classes).ToArray())], Classes, [.. rows.Select(i => Truth[i])], [.. rows.Select(i => Paths[i])]);
    }
}
