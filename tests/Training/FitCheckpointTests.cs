using DogsVsCats.Vision.Trainer.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DogsVsCats.Vision.Tests.Training;

/// <summary>The per-epoch checkpoint: a fit stopped and run again ends as an uninterrupted one; a failed save keeps the last.</summary>
[Trait("Category", "Fast")]
public sealed class FitCheckpointTests : IDisposable
{
    private const int Features = 8;

    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void Fit_StoppedInItsThirdEpochAndRunAgain_EndsAsTheUninterruptedFit()
    {
        var (features, labels) = Separable(64, seed: 1);
        using var data = features;
        var settings = new TrainingSettings { BatchSize = 8, Patience = 10, Seed = 3 };
        using var whole = nn.Linear(Features, 2);
        using var stopped = nn.Linear(Features, 2);
        using var resumed = nn.Linear(Features, 2);
        stopped.load_state_dict(whole.state_dict());   // the same start, whatever other tests draw from torch's generator

        var expected = Fitter.Fit(Request(whole, features, labels, Path.Combine(_temp.Path, "whole")), settings, new QuietProgress());
        using var stop = new CancellationTokenSource();
        var folder = Path.Combine(_temp.Path, "stopped");
        var lines = new List<string>();
        Assert.Throws<OperationCanceledException>(() => Fitter.Fit(Request(stopped, features, labels, folder), settings with { Stop = stop.Token }, new QuietProgress(line =>
        {
            if (line.StartsWith("head epoch 2/", StringComparison.Ordinal))
            {
                stop.Cancel();
            }
        })));
        Assert.Equal(3, File.ReadAllLines(Path.Combine(folder, "epochs.csv")).Length);   // header + epochs 1 and 2

        // A new module, as in a new process: everything it continues from comes from the checkpoint.
        var actual = Fitter.Fit(Request(resumed, features, labels, folder), settings, new QuietProgress(lines.Add));

        Assert.Contains(lines, l => l.Contains("resumed after epoch 2 of 5", StringComparison.Ordinal));
        Assert.Equal(expected.Epochs.Count, actual.Epochs.Count);
        foreach (var (e, a) in expected.Epochs.Zip(actual.Epochs))
        {
            Assert.Equal(e.ValidationLoss, a.ValidationLoss, 1e-6);
            Assert.Equal(e.TrainLoss, a.TrainLoss, 1e-6);
            Assert.Equal(e.LearningRate, a.LearningRate, 1e-12);
        }

        Assert.Equal(expected.BestEpoch, actual.BestEpoch);
        Assert.True(whole.weight.allclose(resumed.weight, rtol: 0, atol: 1e-6), "the resumed fit ends on other weights");
        Assert.Equal(1 + 5, File.ReadAllLines(Path.Combine(folder, "epochs.csv")).Length);   // the history kept across the stop
    }

    [Fact]
    public void Save_FailingPartWay_LeavesThePreviousCheckpointWhole()
    {
        var path = Path.Combine(_temp.Path, FitCheckpoint.FileName);
        using var module = nn.Linear(Features, 2);
        using var optimizer = optim.SGD(module.parameters(), 0.1, momentum: 0.9);
        Step(module, optimizer);
        var first = FitState.Start with { Epoch = 1, Steps = 1 };
        FitCheckpoint.Save(path, first, module, optimizer);
        using var saved = module.weight.detach().clone();

        // The second save fails after its state went out: the module it is given has weights without data (on the
        // meta device), which cannot be written.
        Step(module, optimizer);
        var second = first with { Epoch = 2, Steps = 2, BestLoss = 0.5, BestEpoch = 2, Best = new EvaluationResult(0.5, 1, [0], [0], 1, 0, [1f, 0f], [0]) };
        using var broken = nn.Linear(Features, 2, device: META);
        Assert.ThrowsAny<Exception>(() => FitCheckpoint.Save(path, second, broken, optimizer));

        Assert.Equal([path], Directory.GetFiles(_temp.Path));   // no temp file left beside it
        var loaded = FitCheckpoint.Load(path, module, optimizer);
        Assert.Equal(1, loaded.Epoch);
        Assert.True(module.weight.eq(saved).all().item<bool>(), "the module should hold the first checkpoint's weights");
    }

    [Fact]
    public void Load_CutShort_RefusedSayingWhatToDo()
    {
        var path = Path.Combine(_temp.Path, FitCheckpoint.FileName);
        using var module = nn.Linear(Features, 2);
        using var optimizer = optim.SGD(module.parameters(), 0.1, momentum: 0.9);
        Step(module, optimizer);
        FitCheckpoint.Save(path, FitState.Start with { Epoch = 1, Steps = 1 }, module, optimizer);
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length - 2)]);

        var error = Assert.Throws<InvalidOperationException>(() => FitCheckpoint.Load(path, module, optimizer));
        Assert.Contains(path, error.Message, StringComparison.Ordinal);
        Assert.Contains("delete it", error.Message, StringComparison.Ordinal);
    }

    private static FitRequest Request(Linear model, Tensor features, int[] labels, string directory)
    {
        var source = new FeatureBatchSource(features, labels);
        return new FitRequest
        {
            Strategy = "head",
            Module = model,
            Forward = model.call,
            SetTrainMode = () => model.train(),
            Parameters = [.. model.parameters()],
            Train = source,
            Validation = source,
            LearningRate = 0.05,
            Epochs = 5,
            Augment = false,
            Directory = directory,
            Unit = "vec",
        };
    }

    /// <summary>[count, Features] vectors whose class is the sign of their first two components' sum.</summary>
    private static (Tensor Features, int[] Labels) Separable(int count, int seed)
    {
        var random = new Random(seed);
        var values = new float[count * Features];
        var labels = new int[count];
        for (var i = 0; i < count; i++)
        {
            for (var j = 0; j < Features; j++)
            {
                values[(i * Features) + j] = (float)((random.NextDouble() * 2) - 1);
            }

            labels[i] = values[i * Features] + values[(i * Features) + 1] > 0 ? 1 : 0;
        }

        return (tensor(values, [count, Features]), labels);
    }

    private static void Step(Linear module, optim.Optimizer optimizer)
    {
        using var scope = NewDisposeScope();
        optimizer.zero_grad();
        module.call(ones(4, Features)).sum().backward();
        optimizer.step();
    }
}
