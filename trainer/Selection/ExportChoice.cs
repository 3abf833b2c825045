namespace DogsVsCats.Vision.Trainer.Selection;

/// <summary>The kinds of <c>--export</c>.</summary>
internal enum ExportKind
{
    /// <summary>The ensemble when its validation loss is below the winner's, else the winner.</summary>
    Auto,

    /// <summary>The single strategy that the winner rule picks.</summary>
    Winner,

    /// <summary>The mean of every trained strategy's probabilities, one graph.</summary>
    Ensemble,

    /// <summary>One strategy, named by the user.</summary>
    Strategy,
}

/// <summary><c>--export</c>, parsed once from its text: a kind, and the strategy's name for <see cref="ExportKind.Strategy"/>.</summary>
internal sealed record ExportChoice
{
    private ExportChoice(ExportKind kind, string? strategy) => (Kind, Strategy) = (kind, strategy);

    public static ExportChoice Auto { get; } = new(ExportKind.Auto, null);

    public static ExportChoice Winner { get; } = new(ExportKind.Winner, null);

    public static ExportChoice Ensemble { get; } = new(ExportKind.Ensemble, null);

    /// <summary>What <c>--export</c> does by default (docs/training.md, "What is exported").</summary>
    public static ExportChoice Default => Auto;

    /// <summary>Every text <c>--export</c> takes besides a strategy's name.</summary>
    public static IReadOnlyList<string> Kinds { get; } = [Auto.ToString(), Winner.ToString(), Ensemble.ToString()];

    public ExportKind Kind { get; }

    /// <summary>The strategy's name for <see cref="ExportKind.Strategy"/>; null otherwise.</summary>
    public string? Strategy { get; }

    public static ExportChoice Of(string strategy) => new(ExportKind.Strategy, strategy);

    /// <summary>auto, winner, ensemble, or else a strategy's name (whether the run trains it is checked against its plan).</summary>
    public static ExportChoice Parse(string text)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(text);
        return new[] { Auto, Winner, Ensemble }.FirstOrDefault(c => c.ToString() == text) ?? Of(text);
    }

    /// <summary>The text <c>--export</c> takes for this choice.</summary>
    public override string ToString() => Strategy ?? Kind.ToString().ToLowerInvariant();
}
