using DogsVsCats.Vision.Shared;

namespace DogsVsCats.Vision.Trainer.Export;

/// <summary>Test-time augmentation inside an exported graph (<c>--tta</c>); a file states it in its metadata.</summary>
internal enum TestTimeAugmentation
{
    /// <summary>One pass over the image as it is.</summary>
    None,

    /// <summary>The graph also runs the image's mirror and averages both.</summary>
    Flip,
}

/// <summary>The one mapping between <see cref="TestTimeAugmentation"/> and its text on the command line and in metadata.</summary>
internal static class TestTimeAugmentations
{
    /// <summary>Every value's text, as <c>--tta</c> takes it.</summary>
    public static IReadOnlyList<string> Names { get; } = [.. Enum.GetValues<TestTimeAugmentation>().Select(Name)];

    /// <summary>The value's text: <see cref="ModelContract.TtaModes"/>, also what <c>--tta</c> takes.</summary>
    public static string Name(this TestTimeAugmentation tta) => tta switch
    {
        TestTimeAugmentation.None => ModelContract.TtaModes.None,
        TestTimeAugmentation.Flip => ModelContract.TtaModes.Flip,
        _ => throw new ArgumentOutOfRangeException(nameof(tta), tta, null),
    };

    /// <summary>Reads the text of <c>--tta</c> or of a description's metadata; anything else is an <see cref="ExportException"/>.</summary>
    public static TestTimeAugmentation Parse(string text) =>
        Enum.GetValues<TestTimeAugmentation>().Where(t => t.Name() == text).Cast<TestTimeAugmentation?>().SingleOrDefault()
            ?? throw new ExportException($"Unknown test-time augmentation '{text}': use {string.Join(" or ", Names)}.");
}
