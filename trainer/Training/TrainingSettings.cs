using static TorchSharp.torch;

namespace DogsVsCats.Vision.Trainer.Training;

/// <summary>Hyper-parameters shared by the strategies. Defaults are the study's.</summary>
internal sealed record TrainingSettings
{
    public int BatchSize { get; init; } = 16;

    public double LearningRate { get; init; } = 1e-3;

    /// <summary>The rate of the unfrozen backbone blocks in <c>finetune</c>.</summary>
    public double FinetuneLearningRate { get; init; } = 1e-4;

    /// <summary>The rate of the head in <c>finetune</c>; null trains it at <see cref="FinetuneLearningRate"/> (the study's single rate).</summary>
    public double? FinetuneHeadLearningRate { get; init; }

    /// <summary><c>finetune</c>'s schedule; frozen and features keep the study's Keras decay.</summary>
    public ScheduleKind FinetuneSchedule { get; init; } = ScheduleKind.Keras;

    /// <summary>Epochs of linear warm-up before the cosine schedule (<c>finetune</c> with the cosine schedule).</summary>
    public double WarmupEpochs { get; init; } = 1;

    public double Momentum { get; init; } = 0.9;

    public bool Nesterov { get; init; } = true;

    /// <summary>Keras-style time decay per iteration: lr_t = lr / (1 + decay * t).</summary>
    public double Decay { get; init; } = 1e-6;

    /// <summary>Maximum epochs per strategy; null takes each strategy's default.</summary>
    public int? Epochs { get; init; }

    public int Patience { get; init; } = 3;

    /// <summary>The whole blocks <c>finetune</c> trains (<c>--unfreeze</c>); null: the backbone's last stage.</summary>
    public IReadOnlyList<string>? Unfreeze { get; init; }

    public bool Augment { get; init; } = true;

    public int Seed { get; init; } = 42;

    public Device Device { get; init; } = CPU;

    /// <summary>Where the frozen layers run (<c>--frozen-engine</c>); auto: ONNX Runtime on the CPU, TorchSharp on a GPU.</summary>
    public FrozenEngine FrozenEngine { get; init; } = FrozenEngine.Auto;

    /// <summary>The number format of <c>finetune</c>'s training steps through its unfrozen blocks (<c>--precision</c>).</summary>
    public TrainingPrecision Precision { get; init; } = TrainingPrecision.Auto;

    public string CacheDirectory { get; init; } = DefaultCacheDirectory;

    /// <summary>Ctrl+C: a fit stops between steps; <c>--resume</c> continues from its last completed epoch's checkpoint.</summary>
    public CancellationToken Stop { get; init; }

    public static string DefaultCacheDirectory
    {
        get
        {
            var xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
            var root = !string.IsNullOrEmpty(xdg)
                ? xdg
                : OperatingSystem.IsWindows()
                    ? Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData)
                    : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
            return Path.Combine(root, "dogsvscats", "features");
        }
    }
}
