using System.CommandLine;
using DogsVsCats.Vision.Shared;
using DogsVsCats.Vision.Trainer.Training;

namespace DogsVsCats.Vision.Benchmarks;

internal static class BenchCli
{
    public static RootCommand Build()
    {
        var root = new RootCommand("DogsVsCats.Vision benchmarks: figures printed side by side with a reference.");
        var model = new Option<string>("--model", "-m") { Description = "Exported model.onnx (from 'trainer train' or 'trainer export').", Required = true };
        var batches = new Option<int[]>("--batch") { Description = "Batch sizes to measure.", DefaultValueFactory = _ => [1, 32], AllowMultipleArgumentsPerToken = true };
        var seconds = new Option<double>("--seconds") { Description = "Timed seconds per model and batch size (after warm-up).", DefaultValueFactory = _ => 10 };
        var threads = new Option<int>("--threads") { Description = "ONNX Runtime intra-op threads (0 = all cores).", DefaultValueFactory = _ => 0 };
        var int8 = new Option<string?>("--int8") { Description = "int8 model to measure beside the float one [default: <model>.int8.onnx when it exists]." };
        var data = new Option<string?>("--data") { Description = "Dataset folder: accuracy and log loss of each model on its validation split (as 'trainer train' splits it)." };
        var export = new Command("export", "Images/s of the exported model (and its int8 model) against the original ResNet18.onnx features model, all on ONNX Runtime CPU; with --data, validation accuracy and log loss.")
        {
            model, batches, seconds, threads, int8, data,
        };
        export.SetAction(parsed =>
        {
            if (!File.Exists(parsed.GetValue(model)))
            {
                Console.Error.WriteLine($"error: '{parsed.GetValue(model)}' does not exist. Train first (trainer train) or export a checkpoint (trainer export).");
                return ExitCodes.BadInput;
            }

            var int8Path = parsed.GetValue(int8) ?? Trainer.Export.Int8Quantizer.Int8Path(parsed.GetValue(model)!);
            if (!File.Exists(int8Path) && parsed.GetValue(int8) is not null)
            {
                Console.Error.WriteLine($"error: '{int8Path}' does not exist. Write it with 'trainer export --quantize int8' or 'trainer train --int8'.");
                return ExitCodes.BadInput;
            }

            ExportBenchmark.Run(parsed.GetValue(model)!, File.Exists(int8Path) ? int8Path : null, parsed.GetValue(data), parsed.GetValue(batches)!, parsed.GetValue(seconds), parsed.GetValue(threads));
            return ExitCodes.Ok;
        });
        root.Subcommands.Add(export);

        root.Subcommands.Add(new LabelCommand().Command);

        var backboneNames = new Option<string[]>("--backbone") { Description = $"Backbones to measure ({string.Join(", ", Trainer.Models.Backbones.Names)}); the first is the reference.", DefaultValueFactory = _ => [.. Trainer.Models.Backbones.Names], AllowMultipleArgumentsPerToken = true };
        backboneNames.AcceptOnlyFromAmong([.. Trainer.Models.Backbones.Names]);
        var backboneBatch = new Option<int>("--batch", "-b") { Description = "Images per TorchSharp step and per ONNX Runtime batch (batch 1 is measured too).", DefaultValueFactory = _ => 16 };
        var backboneSeconds = new Option<double>("--seconds") { Description = "Timed seconds per figure (after warm-up).", DefaultValueFactory = _ => 6 };
        var backboneThreads = new Option<int>("--threads") { Description = "Threads for TorchSharp, ONNX Runtime and the PyTorch peer (0 = all cores).", DefaultValueFactory = _ => 0 };
        var photos = new Option<string?>("--photos") { Description = "Folder of real photos (e.g. ../shared/data/dogs-vs-cats): decoded (a figure of its own) and fed to every step; without it, random pixels." };
        var frozenEngine = new Option<FrozenEngine>("--frozen-engine") { Description = "Where the frozen layers run, as in trainer train: auto (ONNX Runtime on the CPU), onnxruntime or torch.", DefaultValueFactory = _ => FrozenEngine.Auto };
        var precision = new Option<string>("--precision") { Description = "The finetune step's number format through the last stage, as in trainer train: auto (bf16 on a CPU with AVX512-BF16 or AMX), fp32 or bf16.", DefaultValueFactory = _ => "auto" };
        precision.AcceptOnlyFromAmong([.. Enum.GetNames<TrainingPrecision>().Select(n => n.ToLowerInvariant())]);
        var peer = new Option<bool>("--peer") { Description = "After each backbone, run PyTorch eager (tools/peer_benchmark.py, Debian's python3-torch) on the same photos and print trainer / PyTorch ratios; needs --photos." };
        var rounds = new Option<int>("--rounds") { Description = "Times each figure is measured, the trainer's and (with --peer) PyTorch's in turn; each figure is the median, each ratio the median of the rounds' ratios, with their range.", DefaultValueFactory = _ => 3 };
        var profile = new Option<bool>("--profile") { Description = "Also profile the exported model in ONNX Runtime (a session of its own, a few batches): each operator type's share of the time and the convolutions' GFLOP/s, all of them and the slowest and fastest one." };
        var backbones = new Command("backbones", "Per backbone: decoding, TorchSharp features / frozen step / finetune step images/s, exported model on ONNX Runtime; with --peer, PyTorch eager side by side.")
        {
            backboneNames, backboneBatch, backboneSeconds, backboneThreads, photos, frozenEngine, precision, peer, rounds, profile,
        };
        backbones.SetAction(parsed =>
        {
            if (parsed.GetValue(peer) && parsed.GetValue(photos) is null)
            {
                Console.Error.WriteLine("error: --peer needs --photos DIR: both sides run on the same real photos.");
                return ExitCodes.BadInput;
            }

            if (parsed.GetValue(rounds) < 1)
            {
                Console.Error.WriteLine($"error: --rounds {parsed.GetValue(rounds)}: at least 1 round is needed.");
                return ExitCodes.BadInput;
            }

            return BackboneBenchmark.Run(new BackboneBenchmarkRequest
            {
                Backbones = parsed.GetValue(backboneNames)!,
                Batch = parsed.GetValue(backboneBatch),
                Seconds = parsed.GetValue(backboneSeconds),
                Threads = parsed.GetValue(backboneThreads),
                Photos = parsed.GetValue(photos),
                Peer = parsed.GetValue(peer),
                FrozenEngine = parsed.GetValue(frozenEngine),
                Precision = TrainingPrecisions.Parse(parsed.GetValue(precision)!),
                Rounds = parsed.GetValue(rounds),
                Profile = parsed.GetValue(profile),
            });
        });
        root.Subcommands.Add(backbones);

        var scalePhotos = new Option<string>("--photos") { Description = "Folder of real photos with cat/ and dog/ (e.g. ../shared/data/dogs-vs-cats), repeated by links up to each count.", Required = true };
        var counts = new Option<int[]>("--counts") { Description = "Dataset sizes to train on, e.g. 3000,24000.", DefaultValueFactory = _ => [3000, 24000], AllowMultipleArgumentsPerToken = true, CustomParser = r => WholeNumbers(r, "3000,24000") };
        var scaleDecodeThreads = new Option<int>("--decode-threads") { Description = "Threads that decode photos, for the trainer and the decode figure (0 = all cores).", DefaultValueFactory = _ => 0 };
        var scale = new Command("scale", "Per dataset size: the trainer's peak working set and time per photo for features (extraction + head) and one frozen epoch, each a trainer process of its own; decode images/s beside.")
        {
            scalePhotos, counts, scaleDecodeThreads,
        };
        scale.SetAction(parsed =>
        {
            var folder = parsed.GetValue(scalePhotos)!;
            if (!Directory.Exists(folder) || parsed.GetValue(counts)!.Any(c => c < 10))
            {
                Console.Error.WriteLine($"error: --photos '{folder}' must be a folder of photos and every --counts at least 10.");
                return ExitCodes.BadInput;
            }

            return ScaleBenchmark.Run(folder, parsed.GetValue(counts)!, parsed.GetValue(scaleDecodeThreads));
        });
        root.Subcommands.Add(scale);
        root.Subcommands.Add(new ServeCommand().Command);
        return root;
    }

    /// <summary>A list option's values, given as "1,4,16" or as separate tokens; an error names the option and an example.</summary>
    internal static int[] WholeNumbers(System.CommandLine.Parsing.ArgumentResult result, string example)
    {
        var values = result.Tokens.SelectMany(t => t.Value.Split(',', StringSplitOptions.RemoveEmptyEntries)).ToList();
        var numbers = values.Select(v => int.TryParse(v, System.Globalization.CultureInfo.InvariantCulture, out var n) ? n : -1).ToArray();
        if (numbers.Any(c => c < 0))
        {
            var name = (result.Parent as System.CommandLine.Parsing.OptionResult)?.Option.Name ?? "the option";
            result.AddError($"{name} takes whole numbers, e.g. {example}; got '{string.Join(",", values)}'.");
        }

        return numbers;
    }
}
