using System.CommandLine;
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
public static class TrainerCli
{
    public static RootCommand Build() => Build(Train, Export);

    public static RootCommand Build(Func<RunRequest, TrainingSettings, int> train, Func<ExportRequest, int> export)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(export);
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
            Description = "Folder of photos: one sub-folder per class (cat/, dog/, ...), or Kaggle's flat layout (cat.0.jpg, dog.0.jpg). With train/ and val/ sub-folders, val/ is the validation set.",
            Required = true,
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

        var command = new Command("train", "Train with one or all strategies, compare them on validation loss and report.")
        {
            data, strategy, backbone, weights, imageSize, unfreeze, device, frozenEngine, precision, epochs, patience, batch, lr, finetuneLr, headLr, schedule, warmup, momentum, decay, noAugment, valSplit, seed, limit, output, cache, threads, decodeThreads, int8, tta, export, reportPhotos,
        };
        command.SetAction(parsed =>
        {
            try
            {
                var positive = new (string Name, double Value)[] { ("--batch-size", parsed.GetValue(batch)), ("--lr", parsed.GetValue(lr)), ("--finetune-lr", parsed.GetValue(finetuneLr)), ("--head-lr", parsed.GetValue(headLr) ?? 1), ("--patience", parsed.GetValue(patience)) };
                foreach (var (name, value) in positive.Where(p => p.Value <= 0))
                {
                    throw new ArgumentException($"{name} must be greater than 0 (got {value}).");
                }

                if (parsed.GetValue(epochs) is <= 0)
                {
                    throw new ArgumentException("--epochs must be at least 1.");
                }

                var spec = new BackboneSpec(parsed.GetValue(backbone)!, parsed.GetValue(weights), parsed.GetValue(imageSize) ?? Backbones.DefaultImageSize(parsed.GetValue(backbone)!));   // checked, weights loaded, before any photo is decoded
                IReadOnlyList<string>? blocks = parsed.GetValue(unfreeze) is { } list
                    ? [.. list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)]
                    : null;
                if (blocks is not null && Backbones.UnfreezeProblem(spec.Name, blocks) is { } problem)
                {
                    throw new ArgumentException(problem);
                }

                var settings = new TrainingSettings
                {
                    Unfreeze = blocks,
                    BatchSize = parsed.GetValue(batch),
                    LearningRate = parsed.GetValue(lr),
                    FinetuneLearningRate = parsed.GetValue(finetuneLr),
                    FinetuneHeadLearningRate = parsed.GetValue(headLr),
                    FinetuneSchedule = Enum.Parse<ScheduleKind>(parsed.GetValue(schedule)!, ignoreCase: true),
                    WarmupEpochs = parsed.GetValue(warmup),
                    Momentum = parsed.GetValue(momentum),
                    Decay = parsed.GetValue(decay),
                    Epochs = parsed.GetValue(epochs),
                    Patience = parsed.GetValue(patience),
                    Augment = !parsed.GetValue(noAugment),
                    Seed = parsed.GetValue(seed),
                    CacheDirectory = parsed.GetValue(cache)!,
                    Device = DeviceSelection.Select(Enum.Parse<DeviceRequest>(parsed.GetValue(device)!, ignoreCase: true), Console.WriteLine),
                    FrozenEngine = Enum.Parse<FrozenEngine>(parsed.GetValue(frozenEngine)!, ignoreCase: true),
                    Precision = TrainingPrecisions.Parse(parsed.GetValue(precision)!),
                };
                var request = new RunRequest
                {
                    DataRoot = parsed.GetValue(data)!,
                    Strategy = parsed.GetValue(strategy)!,
                    Backbone = spec,
                    ValidationFraction = parsed.GetValue(valSplit),
                    LimitPerClass = parsed.GetValue(limit),
                    OutputRoot = parsed.GetValue(output)!,
                    TorchThreads = parsed.GetValue(threads),
                    DecodeThreads = parsed.GetValue(decodeThreads),
                    WriteInt8Model = parsed.GetValue(int8),
                    Tta = TestTimeAugmentations.Parse(parsed.GetValue(tta)!),
                    Export = ExportChoice.Parse(parsed.GetValue(export)!),
                    ReportPhotos = Enum.Parse<ReportPhotos>(parsed.GetValue(reportPhotos)!, ignoreCase: true),
                };
                return train(request, settings);
            }
            catch (Exception e) when (e is DatasetException or ArgumentException or InvalidOperationException or FileNotFoundException or ExportException or BackboneWeightsException)
            {
                Console.Error.WriteLine($"error: {e.Message}");
                return ExitCodes.BadInput;
            }
        });
        return command;
    }
}
