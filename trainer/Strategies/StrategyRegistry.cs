namespace DogsVsCats.Vision.Trainer.Strategies;

/// <summary>Every strategy the trainer knows, and the order a request runs them in (dependencies first).</summary>
internal static class StrategyRegistry
{
    /// <summary>The CLI name that asks for every strategy, compared on validation loss.</summary>
    public const string All = "all";

    /// <summary>In the order the study presents them; <see cref="Plan"/> keeps it wherever dependencies allow.</summary>
    public static IReadOnlyList<Strategy> Strategies { get; } = [new FrozenStrategy(), new FeaturesStrategy(), new FinetuneStrategy()];

    /// <summary>What <c>--strategy</c> accepts.</summary>
    public static IReadOnlyList<string> Choices { get; } = [.. Strategies.Select(s => s.Name), All];

    public static Strategy Find(string name) =>
        Strategies.SingleOrDefault(s => s.Name == name)
        ?? throw new ArgumentException($"Unknown strategy '{name}'. Choose one of: {string.Join(", ", Choices)}.");

    /// <summary>
    /// What to run for <paramref name="requested"/>: that strategy and everything it depends on (every strategy for
    /// <c>all</c>), in a topological order of the declared dependencies.
    /// </summary>
    public static IReadOnlyList<Strategy> Plan(string requested)
    {
        var wanted = requested == All ? Strategies : [Find(requested)];
        var order = new List<Strategy>();
        var visiting = new HashSet<string>();
        void Visit(Strategy strategy)
        {
            if (order.Contains(strategy))
            {
                return;
            }

            if (!visiting.Add(strategy.Name))
            {
                throw new InvalidOperationException($"Strategy '{strategy.Name}' depends on itself through {string.Join(", ", visiting)}.");
            }

            foreach (var dependency in strategy.DependsOn)
            {
                Visit(Find(dependency));
            }

            visiting.Remove(strategy.Name);
            order.Add(strategy);
        }

        foreach (var strategy in wanted)
        {
            Visit(strategy);
        }

        return order;
    }
}
