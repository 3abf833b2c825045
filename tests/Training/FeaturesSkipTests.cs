using DogsVsCats.Vision.Trainer.Run;
using DogsVsCats.Vision.Trainer.Strategies;
using DogsVsCats.Vision.Trainer.Training;

namespace DogsVsCats.Vision.Tests.Training;

/// <summary>A photo that passed the check but cannot be read at extraction: the head trains on the rest, nothing is cached for that split.</summary>
[Trait("Category", "Slow")]
public sealed class FeaturesSkipTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void Features_PhotoUnreadableDuringExtraction_TrainsOnTheRestAndCachesOnlyTheCompleteSplit()
    {
        var data = Path.Combine(_temp.Path, "data");
        TestData.CopyClassFolders(data, perClass: 8);
        var request = new RunRequest
        {
            DataRoot = data,
            Strategy = FeaturesStrategy.StrategyName,
            LimitPerClass = 8,
            ValidationFraction = 0.25,
            OutputRoot = Path.Combine(_temp.Path, "runs"),
        };
        var loaded = TrainingRun.Load(request, new QuietProgress());
        // Damaged after the check, as a photo replaced while a run reads the folder.
        File.WriteAllText(loaded.Train.Paths[0], "not a photo any more");

        var cache = Path.Combine(_temp.Path, "cache");
        var settings = new TrainingSettings { BatchSize = 4, Epochs = 2, CacheDirectory = cache };
        var context = new StrategyContext(loaded.Train, loaded.Validation, loaded.Split.Classes, request.Backbone, settings, Path.Combine(_temp.Path, "run"), new QuietProgress());
        using var outcome = new FeaturesStrategy().Run(context, new Dictionary<string, StrategyOutcome>());

        var notes = outcome.Result.Notes;
        Assert.Contains(notes, n => n.StartsWith("train features extracted, not cached: 1 photo(s)", StringComparison.Ordinal));
        Assert.Contains(notes, n => n.StartsWith("validation features extracted and cached", StringComparison.Ordinal));
        Assert.Single(Directory.GetFiles(cache, "features-*.bin"));
        Assert.All(outcome.Result.Epochs, e => Assert.True(double.IsFinite(e.TrainLoss), $"train loss {e.TrainLoss}"));
    }
}
