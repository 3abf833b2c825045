namespace DogsVsCats.Vision.Trainer.Strategies;

public static class StrategyNames
{
    public const string Frozen = "frozen";
    public const string Features = "features";
    public const string Finetune = "finetune";
    public const string All = "all";

    public static IReadOnlyList<string> Choices { get; } = [Frozen, Features, Finetune, All];

    /// <summary>What to run, in dependency order (finetune starts from the features head).</summary>
    public static IReadOnlyList<string> Plan(string requested) => requested switch
    {
        Frozen => [Frozen],
        Features => [Features],
        Finetune => [Features, Finetune],
        All => [Frozen, Features, Finetune],
        _ => throw new ArgumentException($"Unknown strategy '{requested}'. Choose one of: {string.Join(", ", Choices)}."),
    };

    public static int DefaultEpochs(string strategy) => strategy switch
    {
        Frozen => 5,
        Features => 40,
        Finetune => 5,
        _ => throw new ArgumentException($"Unknown strategy '{strategy}'."),
    };
}
