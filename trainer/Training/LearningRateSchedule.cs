namespace DogsVsCats.Vision.Trainer.Training;

/// <summary>How the learning rate moves, step by step, within one fit (<c>--finetune-schedule</c>).</summary>
internal enum ScheduleKind
{
    /// <summary>The study's Keras time decay: lr / (1 + decay * step).</summary>
    Keras,

    /// <summary>A linear warm-up from near zero, then half a cosine down to zero at the last step of the last epoch.</summary>
    Cosine,
}

/// <summary>A schedule and its parameters; <see cref="Factor"/> multiplies every parameter group's base rate.</summary>
internal sealed record LearningRateSchedule(ScheduleKind Kind, double Decay = 0, double WarmupEpochs = 0)
{
    /// <summary>The multiplier at <paramref name="step"/> (0-based) of a fit of <paramref name="epochs"/> epochs of <paramref name="stepsPerEpoch"/> steps.</summary>
    public double Factor(int step, int epochs, int stepsPerEpoch)
    {
        if (Kind == ScheduleKind.Keras)
        {
            return 1.0 / (1.0 + (Decay * step));
        }

        var total = Math.Max(1, epochs * stepsPerEpoch);
        var warmup = Math.Min(total - 1, (int)Math.Round(WarmupEpochs * stepsPerEpoch));
        if (step < warmup)
        {
            return (step + 1.0) / (warmup + 1.0);
        }

        var progress = Math.Min(1.0, (double)(step - warmup) / Math.Max(1, total - warmup));
        return 0.5 * (1.0 + Math.Cos(Math.PI * progress));
    }
}
