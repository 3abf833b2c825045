using System.CommandLine;
using System.CommandLine.Parsing;
using DogsVsCats.Vision.Shared;

namespace DogsVsCats.Vision.Benchmarks;

/// <summary>bench serve's command line: its options, and the checked <see cref="ServeBenchmarkRequest"/> they make.</summary>
internal sealed class ServeCommand
{
    private readonly Option<string> model = new("--model", "-m") { Description = "Exported model.onnx (from 'trainer train' or 'trainer export').", Required = true };
    private readonly Option<string?> int8 = new("--int8") { Description = "int8 model measured after the float one, the same way [default: <model>.int8.onnx when it exists]." };
    private readonly Option<string> photos = new("--photos") { Description = "Folder of photos (recursive), e.g. ../shared/data/dogs-vs-cats: its JPEGs are sent round robin, and folder labelling of the folder is the JPEG rows' reference.", Required = true };
    private readonly Option<int[]> concurrency = new("--concurrency", "-c") { Description = "Requests in flight at once, one row each, e.g. 1,4,16,64.", DefaultValueFactory = _ => [1, 4, 16, 64], AllowMultipleArgumentsPerToken = true, CustomParser = r => BenchCli.WholeNumbers(r, "1,4,16,64") };
    private readonly Option<int> requests = new("--requests", "-n") { Description = "Requests per row (after a warm-up); a row also ends at --seconds, whichever comes first; also the images per raw-model figure.", DefaultValueFactory = _ => 2000 };
    private readonly Option<double> seconds = new("--seconds") { Description = "Time limit per row and per raw-model figure.", DefaultValueFactory = _ => 20 };
    private readonly Option<int> maxBatch = new("--max-batch", "-b") { Description = "The server's --max-batch, folder labelling's --batch and the raw model's largest batch; every row is also run against a server with --max-batch 1.", DefaultValueFactory = _ => 32 };
    private readonly Option<int?> saturationQueue = new("--saturation-queue") { Description = "The --max-queue (Q) of the saturation run [default: 2 x --max-batch]: tensor requests just below saturation (the most concurrency, from Q + --max-batch down to Q, at which none is refused), then past it (sent at twice the rate that row answered: about half answered 503 at once), then a refusal storm (concurrency 4 Q, each 503 resent at once); 0 = no saturation run." };
    private readonly Option<int> overheadRounds = new("--overhead-rounds") { Description = "Alternating rounds of 10 raw batch-1 runs and 10 tensor requests to the server at concurrency 1 (the first 2 of each not counted): the overhead goal is the median of the rounds' differences; 0 = not measured.", DefaultValueFactory = _ => 30 };
    private readonly Option<int> memoryRequests = new("--memory-requests") { Description = "JPEG requests (concurrency 16) to a fresh server for the memory goal: its peak RSS after the first tenth and after all; the goal is stated over 100000; 0 = no memory run.", DefaultValueFactory = _ => 20_000 };
    private readonly Option<double> memorySeconds = new("--memory-seconds") { Description = "Time limit of the memory run (it ends early, and says how many requests it made).", DefaultValueFactory = _ => 900 };
    private readonly Option<int> threads = new("--threads") { Description = "ONNX Runtime intra-op threads for the server, folder labelling and the raw model (0 = all cores).", DefaultValueFactory = _ => 0 };

    public ServeCommand()
    {
        Command = new Command("serve", "realtime serve under load on 127.0.0.1 (JPEG bytes and uint8 tensors, as tritonclient.http sends them): requests/s, images/s and p50/p95/p99 latency per concurrency beside --max-batch 1 and the raw model; past saturation; memory over many requests; the goals as ratios. Float and int8 model.")
        {
            model, int8, photos, concurrency, requests, seconds, maxBatch, overheadRounds, saturationQueue, memoryRequests, memorySeconds, threads,
        };
        Command.SetAction(async (parsed, _) =>
        {
            var errors = new List<string>();
            var request = Read(parsed, errors);
            foreach (var error in errors)
            {
                Console.Error.WriteLine($"error: {error}");
            }

            if (request is null)
            {
                return ExitCodes.BadInput;
            }

            await ServeBenchmark.Run(request);
            return ExitCodes.Ok;
        });
    }

    public Command Command { get; }

    /// <summary>The request the command line makes, or null with what is wrong in <paramref name="errors"/>.</summary>
    public ServeBenchmarkRequest? Read(ParseResult parsed, ICollection<string> errors)
    {
        var modelPath = parsed.GetValue(model)!;
        if (!File.Exists(modelPath))
        {
            errors.Add($"--model '{modelPath}' does not exist. Train first (trainer train) or export a checkpoint (trainer export).");
        }

        var int8Path = parsed.GetValue(int8) ?? Trainer.Export.Int8Quantizer.Int8Path(modelPath);
        if (!File.Exists(int8Path) && parsed.GetValue(int8) is not null)
        {
            errors.Add($"--int8 '{int8Path}' does not exist. Write it with 'trainer export --quantize int8' or 'trainer train --int8'.");
        }

        var folder = parsed.GetValue(photos)!;
        if (!Directory.Exists(folder) || !Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories).Any(f => Path.GetExtension(f).ToLowerInvariant() is ".jpg" or ".jpeg"))
        {
            errors.Add($"--photos '{folder}' must be a folder with JPEG photos (e.g. ../shared/data/dogs-vs-cats).");
        }

        Check(parsed.GetValue(concurrency)!.All(c => c >= 1), "--concurrency: every value must be at least 1.", errors);
        Check(parsed.GetValue(requests) >= 1, $"--requests {parsed.GetValue(requests)} must be at least 1.", errors);
        Check(parsed.GetValue(seconds) > 0, $"--seconds {parsed.GetValue(seconds)} must be more than 0.", errors);
        Check(parsed.GetValue(maxBatch) is >= 1 and <= 1024, $"--max-batch {parsed.GetValue(maxBatch)} must be between 1 and 1024, as the server's.", errors);
        Check(parsed.GetValue(overheadRounds) >= 0, $"--overhead-rounds {parsed.GetValue(overheadRounds)} must be 0 (none) or more.", errors);
        Check(parsed.GetValue(saturationQueue) is null or >= 0, $"--saturation-queue {parsed.GetValue(saturationQueue)} must be 0 (none) or more.", errors);
        Check(parsed.GetValue(memoryRequests) is 0 or >= 10, $"--memory-requests {parsed.GetValue(memoryRequests)} must be 0 (none) or at least 10 (its first tenth is the baseline).", errors);
        Check(parsed.GetValue(memorySeconds) > 0, $"--memory-seconds {parsed.GetValue(memorySeconds)} must be more than 0.", errors);
        Check(parsed.GetValue(threads) >= 0, $"--threads {parsed.GetValue(threads)} must be 0 (all cores) or more.", errors);
        if (errors.Count > 0)
        {
            return null;
        }

        return new ServeBenchmarkRequest
        {
            Model = modelPath,
            Int8Model = File.Exists(int8Path) ? int8Path : null,
            Photos = folder,
            Concurrency = parsed.GetValue(concurrency)!,
            Requests = parsed.GetValue(requests),
            Seconds = parsed.GetValue(seconds),
            MaxBatch = parsed.GetValue(maxBatch),
            OverheadRounds = parsed.GetValue(overheadRounds),
            SaturationQueue = parsed.GetValue(saturationQueue) ?? 2 * parsed.GetValue(maxBatch),
            MemoryRequests = parsed.GetValue(memoryRequests),
            MemorySeconds = parsed.GetValue(memorySeconds),
            Threads = parsed.GetValue(threads),
        };
    }

    private static void Check(bool holds, string error, ICollection<string> errors)
    {
        if (!holds)
        {
            errors.Add(error);
        }
    }
}
