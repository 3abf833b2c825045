using System.Diagnostics;
using DogsVsCats.Vision.Shared;
using DogsVsCats.Vision.Trainer.Results;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DogsVsCats.Vision.Trainer.Training;

/// <summary>What one strategy's training needs: which module, how to run it, what to train, where to write.</summary>
internal sealed record FitRequest
{
    public required string Strategy { get; init; }

    /// <summary>The module whose state is checkpointed (the whole model, or the head alone for cached features).</summary>
    public required nn.Module Module { get; init; }

    /// <summary>Input batch -> logits [B, classes].</summary>
    public required Func<Tensor, Tensor> Forward { get; init; }

    /// <summary>
    /// The training steps' forward when it differs from <see cref="Forward"/>, which then serves validation: the same
    /// logits from another input (images, where validation reads cached pooled features) or in another number format
    /// (<see cref="BFloat16Blocks"/>, whose gradients <see cref="BeforeStep"/> moves onto <see cref="Parameters"/>).
    /// </summary>
    public Func<Tensor, Tensor>? TrainForward { get; init; }

    /// <summary>Runs between each backward pass and its optimizer step.</summary>
    public Action? BeforeStep { get; init; }

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

    /// <summary>Folder for best.pt, checkpoint.pt, epochs.csv and the TensorBoard events of this strategy.</summary>
    public required string Directory { get; init; }

    /// <summary>Unit for progress and throughput (images, or cached vectors).</summary>
    public string Unit { get; init; } = "img";
}

/// <summary>Parameters that train at their own base learning rate.</summary>
internal sealed record RateGroup(IReadOnlyList<Parameter> Parameters, double LearningRate);

/// <param name="Logits">Every photo's logits, [Count, classes] row-major: what the run measures test-time augmentation, temperature and ensembles on.</param>
/// <param name="Indices">The source's index of each photo evaluated, in the order of the other arrays (a photo unreadable mid-run is left out).</param>
internal sealed record EvaluationResult(double Loss, double Accuracy, int[] Truth, int[] Predicted, int Count, double Seconds, float[] Logits, int[] Indices);

internal sealed record FitResult(int BestEpoch, IReadOnlyList<EpochRecord> Epochs, EvaluationResult Best, string Checkpoint, PhaseTiming Train, PhaseTiming Validate);

/// <summary>
/// The one training loop: SGD with Nesterov momentum and a per-step schedule, early stopping, best-epoch checkpoint,
/// and after every epoch a <see cref="FitCheckpoint"/> it continues from when its folder holds one.
/// </summary>
internal static class Fitter
{
    public static FitResult Fit(FitRequest request, TrainingSettings settings, IProgressReporter progress)
    {
        System.IO.Directory.CreateDirectory(request.Directory);
        var checkpoint = Path.Combine(request.Directory, "best.pt");
        var resumeFrom = Path.Combine(request.Directory, FitCheckpoint.FileName);
        var groups = new[] { new RateGroup(request.Parameters, request.LearningRate) }.Concat(request.OtherGroups)
            .Select(g => new SGD.ParamGroup(g.Parameters, g.LearningRate, settings.Momentum, nesterov: settings.Nesterov));
        using var optimizer = optim.SGD(groups, request.LearningRate, settings.Momentum, nesterov: settings.Nesterov);
        var schedule = request.Schedule ?? new LearningRateSchedule(ScheduleKind.Keras, settings.Decay);
        var stepsPerEpoch = (request.Train.Count + settings.BatchSize - 1) / settings.BatchSize;
        var state = FitState.Start;
        if (File.Exists(resumeFrom))
        {
            AtomicFile.DeleteLeftovers(request.Directory);
            // Loaded before the scheduler exists: it reads the steps taken, and the optimizer's state brings back its rates.
            state = FitCheckpoint.Load(resumeFrom, request.Module, optimizer);
            optimizer.to(settings.Device);   // the momentum buffers are read onto the CPU
            if (state.Best is not null && state.BestEpoch == state.Epoch)
            {
                // The kill may have come between this checkpoint and best.pt, written after it: the weights are the best's.
                Save(request.Module, checkpoint);
            }

            progress.Log($"{request.Strategy}: resumed after epoch {state.Epoch} of {request.Epochs} from {resumeFrom}.");
        }

        var stepsBefore = state.Steps;
        var scheduler = optim.lr_scheduler.LambdaLR(optimizer, step => schedule.Factor(stepsBefore + step, request.Epochs, stepsPerEpoch));
        using var csv = new EpochCsvLog(Path.Combine(request.Directory, "epochs.csv"));
        foreach (var done in state.Epochs)
        {
            csv.Append(done);
        }

        var events = torch.utils.tensorboard.SummaryWriter(Path.Combine(request.Directory, "tensorboard"));
        var epochs = state.Epochs.ToList();
        var (trainSeconds, trainCount, validateSeconds, validateCount) = (state.TrainSeconds, state.TrainCount, state.ValidateSeconds, state.ValidateCount);
        var stopped = state.SinceBest >= settings.Patience;
        for (var epoch = state.Epoch + 1; epoch <= request.Epochs && !stopped; epoch++)
        {
            // System.Random's state cannot be saved, so every epoch's shuffle, augmentation and dropout draw from
            // generators seeded by (seed, epoch): a resumed fit continues exactly as an uninterrupted one would.
            var seed = unchecked((settings.Seed * 1_000_003) + epoch);
            var random = new Random(seed);
            torch.manual_seed(seed);
            var clock = Stopwatch.StartNew();
            var lr = optimizer.ParamGroups.First().LearningRate;
            var (trainLoss, trainAccuracy, steps) = TrainEpoch(request, optimizer, scheduler, random, settings, epoch, progress);
            trainSeconds += clock.Elapsed.TotalSeconds;
            trainCount += request.Train.Count;
            settings.Stop.ThrowIfCancellationRequested();

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

            var improved = validation.Loss < state.BestLoss;
            progress.Log($"{request.Strategy} epoch {epoch}/{request.Epochs}: train loss {trainLoss:F4} acc {trainAccuracy:P2} | val loss {validation.Loss:F4} acc {validation.Accuracy:P2} | {clock.Elapsed.TotalSeconds:F1} s{(improved ? " | best so far, saved" : string.Empty)}");
            state = improved
                ? state with { BestLoss = validation.Loss, Best = validation, BestEpoch = epoch, SinceBest = 0 }
                : state with { SinceBest = state.SinceBest + 1 };
            state = state with
            {
                Epoch = epoch,
                Steps = state.Steps + steps,
                Epochs = [.. epochs],
                TrainSeconds = trainSeconds,
                TrainCount = trainCount,
                ValidateSeconds = validateSeconds,
                ValidateCount = validateCount,
            };
            // The checkpoint before best.pt: a resume after a kill between the two finds best.pt older than the best
            // epoch the checkpoint names, and rewrites it from the checkpoint's weights, which are that epoch's.
            FitCheckpoint.Save(resumeFrom, state, request.Module, optimizer);
            if (improved)
            {
                Save(request.Module, checkpoint);
            }

            stopped = state.SinceBest >= settings.Patience;
            if (stopped)
            {
                progress.Log($"{request.Strategy}: early stop, validation loss has not improved for {settings.Patience} epoch(s); best was epoch {state.BestEpoch}.");
            }
        }

        if (state.Best is null)
        {
            throw new InvalidOperationException($"{request.Strategy}: the validation loss was never finite (training diverged); try a lower learning rate.");
        }

        // The best epoch's weights back into the module; its validation pass already gave the metrics.
        request.Module.load(checkpoint);
        return new FitResult(
            state.BestEpoch, epochs, state.Best, checkpoint,
            new PhaseTiming("train", trainSeconds, trainCount),
            new PhaseTiming("validate", validateSeconds, validateCount));
    }

    public static EvaluationResult Evaluate(nn.Module module, Func<Tensor, Tensor> forward, IBatchSource source, int batchSize, IProgressReporter progress, string description, string unit = "img")
    {
        var clock = Stopwatch.StartNew();
        module.eval();
        using var noGrad = no_grad();
        using var task = progress.Start(description, source.Count, unit);
        var evaluated = new List<int>(source.Count);
        var truth = new List<int>(source.Count);
        var predicted = new List<int>(source.Count);
        var rows = new List<float>();
        double lossSum = 0;
        foreach (var batch in source.Read([.. Enumerable.Range(0, source.Count)], batchSize, augment: null))
        {
            using var scope = NewDisposeScope();
            var logits = forward(batch.Input);
            rows.AddRange(logits.detach().cpu().to_type(ScalarType.Float32).data<float>().ToArray());
            lossSum += nn.functional.cross_entropy(logits, batch.Labels, reduction: nn.Reduction.Sum).item<float>();
            predicted.AddRange(logits.argmax(1).cpu().data<long>().ToArray().Select(p => (int)p));
            truth.AddRange(batch.Labels.cpu().data<long>().ToArray().Select(t => (int)t));
            evaluated.AddRange(batch.Indices);
            task.Advance(batch.Attempted);
        }

        // A photo that could no longer be read is in none of the lists: the figures are over the photos evaluated.
        var count = Math.Max(1, truth.Count);
        var correct = truth.Zip(predicted).Count(p => p.First == p.Second);
        return new EvaluationResult(lossSum / count, (double)correct / count, [.. truth], [.. predicted], truth.Count, clock.Elapsed.TotalSeconds, [.. rows], [.. evaluated]);
    }

    /// <summary>One pass over the shuffled training set; returns its loss, accuracy and the optimizer steps taken.</summary>
    private static (double Loss, double Accuracy, int Steps) TrainEpoch(FitRequest request, optim.Optimizer optimizer, optim.lr_scheduler.LRScheduler scheduler, Random random, TrainingSettings settings, int epoch, IProgressReporter progress)
    {
        request.SetTrainMode();
        var order = Batches.Shuffled(request.Train.Count, random);
        using var task = progress.Start($"{request.Strategy} train {epoch}", order.Length, request.Unit);
        double lossSum = 0;
        var correct = 0;
        var seen = 0;
        var steps = 0;
        foreach (var batch in request.Train.Read(order, settings.BatchSize, request.Augment ? random : null))
        {
            // Ctrl+C abandons the epoch between steps: --resume repeats it from the last completed epoch's checkpoint.
            settings.Stop.ThrowIfCancellationRequested();
            using var scope = NewDisposeScope();
            var logits = (request.TrainForward ?? request.Forward)(batch.Input);
            var loss = nn.functional.cross_entropy(logits, batch.Labels);
            optimizer.zero_grad();
            loss.backward();
            request.BeforeStep?.Invoke();
            optimizer.step();
            scheduler.step();
            steps++;
            lossSum += loss.item<float>() * batch.Count;
            correct += (int)logits.argmax(1).eq(batch.Labels).sum().item<long>();
            seen += batch.Count;
            task.Advance(batch.Attempted);
        }

        return (lossSum / Math.Max(1, seen), (double)correct / Math.Max(1, seen), steps);
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
