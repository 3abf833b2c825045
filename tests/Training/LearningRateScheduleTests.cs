using DogsVsCats.Vision.Trainer.Training;

namespace DogsVsCats.Vision.Tests.Training;

[Trait("Category", "Fast")]
public sealed class LearningRateScheduleTests
{
    [Fact]
    public void Cosine_OneEpochWarmup_RisesToFullRateThenFallsToZeroAtTheLastStep()
    {
        var schedule = new LearningRateSchedule(ScheduleKind.Cosine, WarmupEpochs: 1);
        const int epochs = 4, steps = 10;
        var factors = Enumerable.Range(0, epochs * steps).Select(t => schedule.Factor(t, epochs, steps)).ToList();
        Assert.Equal(1.0 / 11, factors[0], 1e-12);                 // warm-up starts near zero, not at zero
        Assert.True(factors.Take(steps).Zip(factors.Skip(1)).All(p => p.First < p.Second), "rises through the warm-up");
        Assert.Equal(1.0, factors[steps], 1e-12);                    // full rate when the warm-up ends
        Assert.True(factors.Skip(steps).Zip(factors.Skip(steps + 1)).All(p => p.First > p.Second), "falls after it");
        Assert.Equal(0.5, factors[steps + 15], 1e-12);               // half-way through the cosine
        Assert.InRange(factors[^1], 0, 0.01);
    }

    [Fact]
    public void Keras_Decay_IsTheStudysTimeDecay()
    {
        var schedule = new LearningRateSchedule(ScheduleKind.Keras, Decay: 1e-3);
        Assert.Equal(1.0, schedule.Factor(0, 5, 100), 1e-12);
        Assert.Equal(1.0 / 1.25, schedule.Factor(250, 5, 100), 1e-12);
    }
}
