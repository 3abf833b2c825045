using System.CommandLine;
using System.Globalization;
using DogsVsCats.Vision.Shared;
using DogsVsCats.Vision.Trainer.Data;
using DogsVsCats.Vision.Trainer.Export;
using DogsVsCats.Vision.Trainer.Models;
using DogsVsCats.Vision.Trainer.Run;
using DogsVsCats.Vision.Trainer.Selection;
using DogsVsCats.Vision.Trainer.Strategies;
using DogsVsCats.Vision.Trainer.Training;

namespace DogsVsCats.Vision.Trainer.Cli;

/// <summary>
/// The command line: <c>trainer train</c> and <c>trainer export</c>. Each command turns what was typed into its request
/// and hands it to the work it names, so what an option sets can be read before anything runs.
/// </summary>
internal static class TrainerCli
{
    public static RootCommand Build() => Build(Train, Export);

    public static RootCommand Build(Func<RunRequest, TrainingSettings, int> train, Func<ExportRequest, int> export)
    {
        var root = new RootCommand("DogsVsCats.Vision trainer: transfer learning from an ImageNet CNN on a folder of labelled photos.");
        root.Subcommands.Add(TrainCommand(train));
        root.Subcommands.Add(ExportCommand(export));
        return root;
    }

    private static int Train(RunRequest request, TrainingSettings settings)
    {
        TorchSharp.torch.set_num_threads(request.TorchThreads > 0 ? request.TorchThreads : Environment.ProcessorCount);
        var engine = FrozenPart.Resolve(settings.FrozenEngine, settings.Device);
        Console.WriteLine($"Frozen layers run on {(engine == FrozenEngine.OnnxRuntime ? "ONNX Runtime (CPU)" : $"TorchSharp ({settings.Device.type})")}; the layers that train on TorchSharp (--frozen-engine {settings.FrozenEngine.ToString().ToLowerInvariant()}), finetune's steps in {TrainingPrecisions.Name(TrainingPrecisions.Resolve(settings.Precision, settings.Device, TrainingPrecisions.CpuHasBFloat16))} (--precision {TrainingPrecisions.Name(settings.Precision)}).");
        ConsoleProgress.Run(progress => TrainingRun.Execute(request, settings, progress));
        return ExitCodes.Ok;
    }

    private static int Export(ExportRequest request)
    {
        if (request.WriteInt8Model && request.Calibration is null)
        {
            throw new ExportException("--quantize int8 needs --calibration <folder of training photos>.");
        }

        var metadata = ModelExporter.ExportCheckpoint(request.Checkpoint, request.Output, request.Force, request.Tta);
        Console.WriteLine($"Exported {Path.GetFullPath(request.Output)}: {metadata.Backbone}, {metadata.Strategy}, labels {string.Join(", ", metadata.Labels)}, input {metadata.InputWidth}x{metadata.InputHeight} BGR uint8, tta {metadata.Tta}, temperature {metadata.Temperature.ToString("G4", System.Globalization.CultureInfo.InvariantCulture)}.");
        if (request.WriteInt8Model)
        {
            var photos = CalibrationPhotos.Load(request.Calibration!, metadata.InputWidth, metadata.InputHeight, request.Quantization.CalibrationImages);
            var int8Path = Int8Quantizer.Int8Path(request.Output);
            var quantized = Int8Quantizer.QuantizeFile(request.Output, photos, int8Path, request.Force, request.Quantization);
            Console.WriteLine($"Exported {int8Path}: {quantized.Quantization}; calibrated on {quantized.CalibrationImages} photos.");
        }

        return ExitCodes.Ok;
    }

    private static Command ExportCommand(Func<ExportRequest, int> export)
    {
        var checkpoint = new Option<string>("--checkpoint", "-c")
        {
            Description = "Full-model checkpoint from a run folder: frozen/best.pt, features/model.pt or finetune/best.pt (its .json description must sit beside it).",
            Required = true,
        };
        var output = new Option<string>("--out", "-o") { Description = "ONNX file to write.", DefaultValueFactory = _ => "model.onnx" };
        var force = new Option<bool>("--force") { Description = "Replace --out if it exists (otherwise an existing file is never touched)." };
        var quantize = new Option<string?>("--quantize") { Description = "int8: also write <out>.int8.onnx beside --out, statically quantized (QDQ) for CPUs with int8 dot products; needs --calibration." };
        quantize.AcceptOnlyFromAmong("int8");
        var calibration = new Option<string?>("--calibration") { Description = "Photos that measure the int8 activation ranges: a dataset folder (its training split is used, as 'train' splits it) or any folder of photos." };
        var calibrationImages = new Option<int>("--calibration-images") { Description = "At most this many calibration photos, spread over the folder.", DefaultValueFactory = _ => new QuantizationSettings().CalibrationImages };
        var calibrationMethod = new Option<CalibrationMethod>("--calibration-method") { Description = "MinMax: full measured ranges. Percentile: clip the outer 0.01 %.", DefaultValueFactory = _ => new QuantizationSettings().Method };
        var exportTta = new Option<string?>("--tta") { Description = "Test-time augmentation inside the model: flip (also run each image's mirror and average) or none [default: what the run exported, in the checkpoint's description]." };
        exportTta.AcceptOnlyFromAmong([.. TestTimeAugmentations.Names]);
        var command = new Command("export", "Export a trained checkpoint as one self-describing ONNX model (uint8 BGR in; probabilities and class activation maps out).")
        {
            checkpoint, output, force, quantize, calibration, calibrationImages, calibrationMethod, exportTta,
        };
        command.SetAction(parsed =>
        {
            try
            {
                return export(new ExportRequest
                {
                    Checkpoint = parsed.GetValue(checkpoint)!,
                    Output = parsed.GetValue(output)!,
                    Force = parsed.GetValue(force),
                    Tta = parsed.GetValue(exportTta) is { } text ? TestTimeAugmentations.Parse(text) : null,
                    WriteInt8Model = parsed.GetValue(quantize) is not null,
                    Calibration = parsed.GetValue(calibration),
                    Quantization = new QuantizationSettings { CalibrationImages = parsed.GetValue(calibrationImages), Method = parsed.GetValue(calibrationMethod) },
                });
            }
            catch (ExportException e)
            {
                Console.Error.WriteLine($"error: {e.Message}");
                return ExitCodes.BadInput;
            }
        });
        return command;
    }

    private static Command TrainCommand(Func<RunRequest, TrainingSettings, int> train)
    {
        var defaults = new TrainingSettings();
        var data = new Option<string>("--data", "-d")
        {
            Description = "Folder of photos: one sub-folder per class (cat/, dog/, ...), or Kaggle's flat layout (cat.0.jpg, dog.0.jpg). With train/ and val/ sub-folders, val/ is the validation set. Required unless --resume.",
        };
        var resume = new Option<string?>("--resume")
        {
            Description = "RUN_FOLDER: continue a run that was stopped (Ctrl+C, a kill, a power loss) from its last completed epoch, with the options it started with: strategies that finished are not trained again, the report covers the whole run. Options that decide results may be left out; given, they must match the run's. Only --device, --frozen-engine, --threads, --decode-threads and --cache-dir may differ; --out is not used.",
            HelpName = "RUN_FOLDER",
        };
        var strategy = new Option<string>("--strategy", "-s")
        {
            Description = "frozen: frozen backbone, new head, images every epoch (augmented). features: cache backbone features once, train the head on them. finetune: features head + last stage unfrozen. all: the three, compared on validation loss.",
            DefaultValueFactory = _ => StrategyRegistry.All,
        };
        strategy.AcceptOnlyFromAmong([.. StrategyRegistry.Choices]);
        var backbone = new Option<string>("--backbone")
        {
            Description = $"Pretrained backbone. {CntkResNet18.BackboneName}: ImageNet ResNet-18 shipped with the program (trained at 224 px). {TorchvisionResNet50.BackboneName} (224 px), {TorchvisionInceptionV3.BackboneName} (299 px, the study's network): torchvision's, with --weights.",
            DefaultValueFactory = _ => CntkResNet18.BackboneName,
        };
        backbone.AcceptOnlyFromAmong([.. Backbones.Names]);
        var weights = new Option<string?>("--weights")
        {
            Description = "torchvision state_dict for resnet50 or inception_v3: a .pth saved by torch.save(model.state_dict(), ...) or a .safetensors file. Its ImageNet classifier (fc, AuxLogits) is ignored.",
        };
        var imageSize = new Option<int?>("--image-size") { Description = $"Square input size in pixels for training, evaluation and the exported model (the backbones are fully convolutional; cost grows with its square) [default: {string.Join(", ", Backbones.Names.Select(n => $"{n} {Backbones.DefaultImageSize(n)}"))}]." };
        var unfreeze = new Option<string?>("--unfreeze") { Description = "finetune: the whole blocks that train, comma-separated (resnets: layer1..layer4; inception_v3: Mixed_5b..Mixed_7c); everything below the lowest stays frozen [default: the last stage]." };
        var device = new Option<string>("--device") { Description = "auto: CUDA when TorchSharp sees a GPU, else CPU. cpu. cuda: fail unless a GPU is usable.", DefaultValueFactory = _ => "auto" };
        device.AcceptOnlyFromAmong([.. Enum.GetNames<DeviceRequest>().Select(n => n.ToLowerInvariant())]);
        var frozenEngine = new Option<string>("--frozen-engine")
        {
            Description = "Where the frozen layers run (the whole backbone for frozen and features, everything below the last stage for finetune): auto (ONNX Runtime on the CPU, TorchSharp on a GPU, said in one line), onnxruntime (CPU only) or torch.",
            DefaultValueFactory = _ => "auto",
        };
        frozenEngine.AcceptOnlyFromAmong([.. Enum.GetNames<FrozenEngine>().Select(n => n.ToLowerInvariant())]);
        var precision = new Option<string>("--precision")
        {
            Description = "finetune: number format of the training steps through the unfrozen blocks: bf16 (bfloat16 forward and backward on float32 weights; updates, evaluation, checkpoints and the export stay float32), fp32, or auto (bf16 on a CPU with AVX512-BF16 or AMX, else fp32).",
            DefaultValueFactory = _ => "auto",
        };
        precision.AcceptOnlyFromAmong([.. Enum.GetNames<TrainingPrecision>().Select(n => n.ToLowerInvariant())]);
        var epochs = new Option<int?>("--epochs", "-e") { Description = $"Maximum epochs per strategy [default: {string.Join(", ", StrategyRegistry.Strategies.Select(s => $"{s.Name} {s.DefaultEpochs}"))}]." };
        var patience = new Option<int>("--patience") { Description = "Stop a strategy after this many epochs without a lower validation loss.", DefaultValueFactory = _ => defaults.Patience };
        var batch = new Option<int>("--batch-size", "-b") { Description = "Images (or cached vectors) per step.", DefaultValueFactory = _ => defaults.BatchSize };
        var lr = new Option<double>("--lr") { Description = "SGD learning rate for frozen and features.", DefaultValueFactory = _ => defaults.LearningRate };
        var finetuneLr = new Option<double>("--finetune-lr") { Description = "SGD learning rate for finetune.", DefaultValueFactory = _ => defaults.FinetuneLearningRate };
        var headLr = new Option<double?>("--head-lr") { Description = "finetune: the head's learning rate (the unfrozen blocks take --finetune-lr) [default: --finetune-lr]." };
        var schedule = new Option<string>("--finetune-schedule") { Description = "finetune's learning-rate schedule per step: keras (lr / (1 + decay * step), the study's) or cosine (linear warm-up for --warmup-epochs, then a half cosine to zero at the last epoch). frozen and features always use keras.", DefaultValueFactory = _ => defaults.FinetuneSchedule.ToString().ToLowerInvariant() };
        schedule.AcceptOnlyFromAmong([.. Enum.GetNames<ScheduleKind>().Select(n => n.ToLowerInvariant())]);
        var warmup = new Option<double>("--warmup-epochs") { Description = "finetune with --finetune-schedule cosine: epochs of linear warm-up.", DefaultValueFactory = _ => defaults.WarmupEpochs };
        var momentum = new Option<double>("--momentum") { Description = "SGD momentum (Nesterov).", DefaultValueFactory = _ => defaults.Momentum };
        var decay = new Option<double>("--decay") { Description = "Learning-rate time decay per step, as Keras: lr / (1 + decay * step).", DefaultValueFactory = _ => defaults.Decay };
        var noAugment = new Option<bool>("--no-augment") { Description = "Turn off random flip/crop for frozen and finetune." };
        var valSplit = new Option<double>("--val-split") { Description = "Fraction of each class held out for validation (ignored when a val/ folder exists).", DefaultValueFactory = _ => DatasetScanner.DefaultValidationFraction };
        var seed = new Option<int>("--seed") { Description = "Seed for head initialisation, shuffling and augmentation (the split always uses 42).", DefaultValueFactory = _ => defaults.Seed };
        var limit = new Option<int>("--limit") { Description = "Use at most N training images per class (validation scaled to match); 0 = all. For quick trials.", DefaultValueFactory = _ => 0 };
        var output = new Option<string>("--out", "-o") { Description = "Folder under which each run gets its own <yyyyMMdd-HHmmss>/ folder (report, plots, checkpoints, CSV, TensorBoard logs); an existing run is never overwritten.", DefaultValueFactory = _ => "runs" };
        var cache = new Option<string>("--cache-dir") { Description = "Where the features strategy caches backbone features.", DefaultValueFactory = _ => TrainingSettings.DefaultCacheDirectory };
        var threads = new Option<int>("--threads") { Description = "CPU threads for TorchSharp (0 = all cores).", DefaultValueFactory = _ => 0 };
        var decodeThreads = new Option<int>("--decode-threads") { Description = "Threads that decode photos (0 = all cores).", DefaultValueFactory = _ => 0 };
        var int8 = new Option<bool>("--int8") { Description = "Also write model.int8.onnx beside model.onnx: int8 (QDQ) for CPUs, calibrated on training photos." };
        var tta = new Option<string>("--tta") { Description = "Test-time augmentation inside model.onnx: flip (the graph also runs each image's mirror and averages both) or none (the run also skips the mirrored validation pass, so the report has no flip figures).", DefaultValueFactory = _ => ExportSelection.DefaultTta.Name() };
        tta.AcceptOnlyFromAmong([.. TestTimeAugmentations.Names]);
        var export = new Option<string>("--export") { Description = "What model.onnx holds: auto (the ensemble when its validation loss is below the winner's, else the winner; with --int8, the winner), ensemble (the mean of every trained strategy, one graph: slower, one pass per distinct backbone), winner (the lowest validation loss) or a strategy's name.", DefaultValueFactory = _ => ExportChoice.Default.ToString() };
        export.AcceptOnlyFromAmong([.. ExportChoice.Kinds, .. StrategyRegistry.Strategies.Select(s => s.Name)]);
        var reportPhotos = new Option<string>("--report-photos")
        {
            Description = "Photos the exported model.onnx is scored on for the report: all (validation: calibration, reliability.png, mistakes; training: train_high_loss, possible label errors, one more pass over the training photos), validation, or none.",
            DefaultValueFactory = _ => "all",
        };
        reportPhotos.AcceptOnlyFromAmong([.. Enum.GetNames<ReportPhotos>().Select(n => n.ToLowerInvariant())]);

        var command = new Command("train", "Train with one or all strategies, compare them on validation loss and report. " + ExitCodes.Help)
        {
            data, resume, strategy, backbone, weights, imageSize, unfreeze, device, frozenEngine, precision, epochs, patience, batch, lr, finetuneLr, headLr, schedule, warmup, momentum, decay, noAugment, valSplit, seed, limit, output, cache, threads, decodeThreads, int8, tta, export, reportPhotos,
        };

        // The options that decide a run's results: recorded in its run.json with their values, what --resume continues
        // with; paths as full paths, so a resume from another folder finds the same files.
        RecordedOption[] recorded =
        [
            Recorded(data, FullPath), Recorded(strategy), Recorded(backbone), Recorded(weights, FullPath), Recorded(imageSize), Recorded(unfreeze),
            Recorded(precision), Recorded(epochs), Recorded(patience), Recorded(batch), Recorded(lr), Recorded(finetuneLr), Recorded(headLr),
            Recorded(schedule), Recorded(warmup), Recorded(momentum), Recorded(decay), Recorded(noAugment), Recorded(valSplit), Recorded(seed),
            Recorded(limit), Recorded(int8), Recorded(tta), Recorded(export), Recorded(reportPhotos),
        ];
        command.SetAction(parsed =>
        {
            using var stop = new CancellationTokenSource();
            // The first Ctrl+C stops the run between two steps, its last completed epoch saved; a second one ends it at once.
            void OnCancel(object? sender, ConsoleCancelEventArgs e)
            {
                if (!stop.IsCancellationRequested)
                {
                    e.Cancel = true;
                    stop.Cancel();
                    Console.Error.WriteLine("Stopping after the current step (Ctrl+C again to end at once)...");
                }
            }

            Console.CancelKeyPress += OnCancel;
            try
            {
                // Resuming, the recorded options come from run.json; the others, which only say how to run, from this command line.
                var runFolder = parsed.GetValue(resume);
                var resumed = runFolder is null ? null : Resumed(command, runFolder, parsed, recorded);
                T Value<T>(Option<T> option) => (resumed is not null && recorded.Any(r => r.Option == option) ? resumed : parsed).GetValue(option)!;
                if (Value(data) is null)
                {
                    throw new ArgumentException("--data is required: the folder of photos to train on (or --resume RUN_FOLDER to continue a run).");
                }

                var positive = new (string Name, double Value)[] { ("--batch-size", Value(batch)), ("--lr", Value(lr)), ("--finetune-lr", Value(finetuneLr)), ("--head-lr", Value(headLr) ?? 1), ("--patience", Value(patience)) };
                foreach (var (name, value) in positive.Where(p => p.Value <= 0))
                {
                    throw new ArgumentException($"{name} must be greater than 0 (got {value}).");
                }

                if (Value(epochs) is <= 0)
                {
                    throw new ArgumentException("--epochs must be at least 1.");
                }

                var spec = new BackboneSpec(Value(backbone)!, Value(weights), Value(imageSize) ?? Backbones.DefaultImageSize(Value(backbone)!));   // checked, weights loaded, before any photo is decoded
                IReadOnlyList<string>? blocks = Value(unfreeze) is { } list
                    ? [.. list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)]
                    : null;
                if (blocks is not null && Backbones.UnfreezeProblem(spec.Name, blocks) is { } problem)
                {
                    throw new ArgumentException(problem);
                }

                var settings = new TrainingSettings
                {
                    Unfreeze = blocks,
                    BatchSize = Value(batch),
                    LearningRate = Value(lr),
                    FinetuneLearningRate = Value(finetuneLr),
                    FinetuneHeadLearningRate = Value(headLr),
                    FinetuneSchedule = Enum.Parse<ScheduleKind>(Value(schedule)!, ignoreCase: true),
                    WarmupEpochs = Value(warmup),
                    Momentum = Value(momentum),
                    Decay = Value(decay),
                    Epochs = Value(epochs),
                    Patience = Value(patience),
                    Augment = !Value(noAugment),
                    Seed = Value(seed),
                    CacheDirectory = Value(cache)!,
                    Device = DeviceSelection.Select(Enum.Parse<DeviceRequest>(Value(device)!, ignoreCase: true), Console.WriteLine),
                    FrozenEngine = Enum.Parse<FrozenEngine>(Value(frozenEngine)!, ignoreCase: true),
                    Precision = TrainingPrecisions.Parse(Value(precision)!),
                    Stop = stop.Token,
                };
                var request = new RunRequest
                {
                    DataRoot = Value(data)!,
                    Strategy = Value(strategy)!,
                    Backbone = spec,
                    ValidationFraction = Value(valSplit),
                    LimitPerClass = Value(limit),
                    OutputRoot = Value(output)!,
                    TorchThreads = Value(threads),
                    DecodeThreads = Value(decodeThreads),
                    WriteInt8Model = Value(int8),
                    Tta = TestTimeAugmentations.Parse(Value(tta)!),
                    Export = ExportChoice.Parse(Value(export)!),
                    ReportPhotos = Enum.Parse<ReportPhotos>(Value(reportPhotos)!, ignoreCase: true),
                    Resume = runFolder,
                    Arguments = [.. recorded.SelectMany(r => r.Arguments(resumed ?? parsed))],
                };
                return train(request, settings);
            }
            catch (RunStoppedException e)
            {
                parsed.InvocationConfiguration.Output.WriteLine($"Stopped: every completed epoch is saved in {e.RunDirectory}. To continue the run:");
                parsed.InvocationConfiguration.Output.WriteLine($"  ./dogsvscats train --resume {ShellQuoted(e.RunDirectory)}");
                return ExitCodes.Interrupted;
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                parsed.InvocationConfiguration.Output.WriteLine("Stopped before training began: nothing to resume.");
                return ExitCodes.Interrupted;
            }
            catch (Exception e) when (e is DatasetException or ArgumentException or InvalidOperationException or FileNotFoundException or ExportException or BackboneWeightsException)
            {
                parsed.InvocationConfiguration.Error.WriteLine($"error: {e.Message}");
                return ExitCodes.BadInput;
            }
            finally
            {
                Console.CancelKeyPress -= OnCancel;
            }
        });
        return command;
    }

    /// <summary>
    /// The parse of <paramref name="folder"/>'s recorded options, once every recorded option given on this command line
    /// is found to agree with it.
    /// </summary>
    private static ParseResult Resumed(Command command, string folder, ParseResult given, IReadOnlyList<RecordedOption> recorded)
    {
        var record = RunFolder.ReadUnfinished(folder);
        var run = command.Parse([.. record.Arguments]);
        if (run.Errors.Count > 0)
        {
            throw new ArgumentException($"The options recorded in {Path.Combine(folder, RunFolder.RecordFile)} no longer parse ({run.Errors[0].Message}): start a new run without --resume.");
        }

        foreach (var option in recorded.Where(r => given.GetResult(r.Option) is { Implicit: false }))
        {
            var (now, then) = (option.Value(given), option.Value(run));
            if (!Equals(now, then))
            {
                throw new ArgumentException($"{option.Option.Name} {Shown(now)} contradicts the run's {option.Option.Name} {Shown(then)} (recorded in {Path.Combine(folder, RunFolder.RecordFile)}): leave it out to continue the run as it started, or start a new run without --resume.");
            }
        }

        return run;
    }

    private static RecordedOption Recorded<T>(Option<T> option, Func<string, string>? path = null) =>
        new(option, parsed => parsed.GetValue(option) is var value && path is not null && value is string text ? path(text) : value);

    private static string FullPath(string path) => Path.GetFullPath(path);

    private static string Shown(object? value) => value switch
    {
        null => "(not given)",
        IFormattable number => number.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString()!,
    };

    /// <summary>A folder as one shell word: run folders are named "yyyyMMdd-HHmmss (2)" when taken.</summary>
    private static string ShellQuoted(string path) =>
        path.All(c => char.IsAsciiLetterOrDigit(c) || c is '/' or '.' or '-' or '_') ? path : $"'{path.Replace("'", "'\\''", StringComparison.Ordinal)}'";

    /// <summary>An option that decides a run's results, and its value in a parse (a path made full).</summary>
    private sealed record RecordedOption(Option Option, Func<ParseResult, object?> Value)
    {
        /// <summary>The option as arguments that give it this value: none for an unset or false one, the name alone for a set flag.</summary>
        public IEnumerable<string> Arguments(ParseResult parsed) => Value(parsed) switch
        {
            null or false => [],
            true => [Option.Name],
            IFormattable number => [Option.Name, number.ToString(null, CultureInfo.InvariantCulture)],
            var value => [Option.Name, value.ToString()!],
        };
    }
}
