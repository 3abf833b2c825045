using System.Diagnostics;
using DogsVsCats.Vision.Shared;
using DogsVsCats.Vision.Trainer.Reporting;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DogsVsCats.Vision.Trainer.Training;

/// <summary>What one strategy's training needs: which module, how to run it, what to train, where to write.</summary>
public sealed record FitRequest
{
    public required string Strategy { get; init; }

    /// <summary>The module whose state is checkpointed (the whole model, or the head alone for cached features).</summary>
    public required nn.Module Module { get; init; }

    /// <summary>Input batch -> logits [B, classes].</summary>
    public required Func<Tensor, Tensor> Forward { get; init; }

    /// <summary>Puts the module in training mode, keeping frozen BatchNorm in eval mode.</summary>
    public required Action SetTrainMode { get; init; }

    /// <summary>Parameters trained at <see cref="LearningRate"/>.</summary>
    public required IReadOnlyList<Parameter> Parameters { get; init; }

    /// <summary>Further parameters, each group at its own base rate (e.g. the head above a fine-tuned stage).</summary>
    public IReadOnlyList<RateGroup> OtherGroups { get; init; } = [];

    /// <summary>How every group's rate moves per step; the study's Keras decay unless a strategy says otherwise.</summary>
    public LearningRateSchedule? Schedule { get; init; }

    public required IBatchSource Train { get; init; }

    public required IBatchSource Validation { get; init; }

    public required double LearningRate { get; init; }

    public required int Epochs { get; init; }

    public required bool Augment { get; init; }

    /// <summary>Folder for best.pt, epochs.csv and the TensorBoard events of this strategy.</summary>
    public required string Directory { get; init; }

    /// <summary>Unit for progress and throughput (images, or cached vectors).</summary>
    public string Unit { get; init; } = "img";
}

/// <summary>Parameters that train at their own base learning rate.</summary>
public sealed record RateGroup(IReadOnlyList<Parameter> Parameters, double LearningRate);

public sealed record EvaluationResult(double Loss, double Accuracy, int[] Truth, int[] Predicted, int Count, double Seconds);

public sealed record FitResult(int BestEpoch, IReadOnlyList<EpochRecord> Epochs, EvaluationResult Best, string Checkpoint, PhaseTiming Train, PhaseTiming Validate);

/// <summary>The one training loop: SGD with Nesterov momentum and a per-step schedule, early stopping, best-epoch checkpoint.</summary>
public static class Fitter
{
    public static FitResult Fit(FitRequest request, TrainingSettings settings, IProgressReporter progress)
    {
        System.IO.Directory.CreateDirectory(request.Directory);
        var checkpoint = Path.Combine(request.Directory, "best.pt");
        var random = new Random(settings.Seed);
        var groups = new[] { new RateGroup(request.Parameters, request.LearningRate) }.Concat(request.OtherGroups)
            .Select(g => new SGD.ParamGroup(g.Parameters, g.LearningRate, settings.Momentum, nesterov: settings.Nesterov));
        using var optimizer = optim.SGD(groups, request.LearningRate, settings.Momentum, nesterov: settings.Nesterov);
        var schedule = request.Schedule ?? new LearningRateSchedule(ScheduleKind.Keras, settings.Decay);
        var stepsPerEpoch = (request.Train.Count + settings.BatchSize - 1) / settings.BatchSize;
        var scheduler = optim.lr_scheduler.LambdaLR(optimizer, step => schedule.Factor(step, request.Epochs, stepsPerEpoch));
        using var csv = new EpochCsvLog(Path.Combine(request.Directory, "epochs.csv"));
        var events = torch.utils.tensorboard.SummaryWriter(Path.Combine(request.Directory, "tensorboard"));

        var epochs = new List<EpochRecord>();
        var best = double.PositiveInfinity;
        EvaluationResult? bestResult = null;
        var bestEpoch = 0;
        var sinceBest = 0;
        double trainSeconds = 0, validateSeconds = 0;
        int trainCount = 0, validateCount = 0;
        for (var epoch = 1; epoch <= request.Epochs; epoch++)
        {
            var clock = Stopwatch.StartNew();
            var lr = optimizer.ParamGroups.First().LearningRate;
            var (trainLoss, trainAccuracy) = TrainEpoch(request, optimizer, scheduler, random, settings.BatchSize, epoch, progress);
            trainSeconds += clock.Elapsed.TotalSeconds;
            trainCount += request.Train.Count;

            var validation = Evaluate(request.Module, request.Forward, request.Validation, settings.BatchSize, progress, $"{request.Strategy} validate {epoch}", request.Unit);
            validateSeconds += validation.Seconds;
            validateCount += validation.Count;

            var record = new EpochRecord(epoch, trainLoss, trainAccuracy, validation.Loss, validation.Accuracy, clock.Elapsed.TotalSeconds, lr);
            epochs.Add(record);
            csv.Append(record);
            events.add_scalar("loss/train", (float)trainLoss, epoch);
            events.add_scalar("loss/validation", (float)validation.Loss, epoch);
            events.add_scalar("accuracy/train", (float)trainAccuracy, epoch);
            events.add_scalar("accuracy/validation", (float)validation.Accuracy, epoch);
            events.add_scalar("learning_rate", (float)lr, epoch);

            var improved = validation.Loss < best;
            progress.Log($"{request.Strategy} epoch {epoch}/{request.Epochs}: train loss {trainLoss:F4} acc {trainAccuracy:P2} | val loss {validation.Loss:F4} acc {validation.Accuracy:P2} | {clock.Elapsed.TotalSeconds:F1} s{(improved ? " | best so far, saved" : string.Empty)}");
            if (improved)
            {
                best = validation.Loss;
                bestResult = validation;
                bestEpoch = epoch;
                sinceBest = 0;
                Save(request.Module, checkpoint);
            }
            else if (++sinceBest >= settings.Patience)
            {
                progress.Log($"{request.Strategy}: early stop, validation loss has not improved for {settings.Patience} epoch(s); best was epoch {bestEpoch}.");
                break;
            }
        }

        if (bestResult is null)
        {
            throw new InvalidOperationException($"{request.Strategy}: the validation loss was never finite (training diverged); try a lower learning rate.");
        }

        // The best epoch's weights back into the module; its validation pass already gave the metrics.
        request.Module.load(checkpoint);
        return new FitResult(
            bestEpoch, epochs, bestResult, checkpoint,
            new PhaseTiming("train", trainSeconds, trainCount),
            new PhaseTiming("validate", validateSeconds, validateCount));
    }

    public static EvaluationResult Evaluate(nn.Module module, Func<Tensor, Tensor> forward, IBatchSource source, int batchSize, IProgressReporter progress, string description, string unit = "img")
    {
        var clock = Stopwatch.StartNew();
        module.eval();
        using var noGrad = no_grad();
        using var task = progress.Start(description, source.Count, unit);
        var predicted = new int[source.Count];
        double lossSum = 0;
        var correct = 0;
        var order = Enumerable.Range(0, source.Count).ToArray();
        for (var start = 0; start < source.Count; start += batchSize)
        {
            using var scope = NewDisposeScope();
            var indices = order.AsSpan(start, Math.Min(batchSize, source.Count - start));
            var (input, labels) = source.Get(indices, augment: false);
            var logits = forward(input);
            lossSum += nn.functional.cross_entropy(logits, labels, reduction: nn.Reduction.Sum).item<float>();
            var argmax = logits.argmax(1).cpu().data<long>().ToArray();
            for (var i = 0; i < argmax.Length; i++)
            {
                predicted[start + i] = (int)argmax[i];
                correct += argmax[i] == source.Labels[start + i] ? 1 : 0;
            }

            task.Advance(indices.Length);
        }

        var count = Math.Max(1, source.Count);
        return new EvaluationResult(lossSum / count, (double)correct / count, [.. source.Labels], predicted, source.Count, clock.Elapsed.TotalSeconds);
    }

    private static (double Loss, double Accuracy) TrainEpoch(FitRequest request, optim.Optimizer optimizer, optim.lr_scheduler.LRScheduler scheduler, Random random, int batchSize, int epoch, IProgressReporter progress)
    {
        request.SetTrainMode();
        var order = Batches.Shuffled(request.Train.Count, random);
        using var task = progress.Start($"{request.Strategy} train {epoch}", order.Length, request.Unit);
        double lossSum = 0;
        var correct = 0;
        for (var start = 0; start < order.Length; start += batchSize)
        {
            using var scope = NewDisposeScope();
            var indices = order.AsSpan(start, Math.Min(batchSize, order.Length - start));
            var (input, labels) = request.Train.Get(indices, request.Augment);
            var logits = request.Forward(input);
            var loss = nn.functional.cross_entropy(logits, labels);
            optimizer.zero_grad();
            loss.backward();
            optimizer.step();
            scheduler.step();
            lossSum += loss.item<float>() * indices.Length;
            correct += (int)logits.argmax(1).eq(labels).sum().item<long>();
            task.Advance(indices.Length);
        }

        return (lossSum / Math.Max(1, order.Length), (double)correct / Math.Max(1, order.Length));
    }

    /// <summary>Writes the checkpoint beside its target and renames, so a crash never leaves half a file.</summary>
    public static void Save(nn.Module module, string path) => AtomicFile.Write(path, temp => module.save(temp));

    public static (long Trainable, long Frozen) CountParameters(nn.Module module)
    {
        long trainable = 0, frozen = 0;
        foreach (var p in module.parameters())
        {
            if (p.requires_grad)
            {
                trainable += p.numel();
            }
            else
            {
                frozen += p.numel();
            }
        }

        return (trainable, frozen);
    }
}
