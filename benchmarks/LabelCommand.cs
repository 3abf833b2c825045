using System.CommandLine;
using DogsVsCats.Vision.Shared;

namespace DogsVsCats.Vision.Benchmarks;

/// <summary>bench label's command line: its options, and the checked <see cref="LabelBenchmarkRequest"/> they make.</summary>
internal sealed class LabelCommand
{
    private readonly Option<string> model = new("--model", "-m") { Description = "Exported model.onnx (from 'trainer train' or 'trainer export').", Required = true };
    private readonly Option<string?> int8 = new("--int8") { Description = "int8 model measured after the float one, the same way; 'none' measures --model alone [default: <model>.int8.onnx when it exists]." };
    private readonly Option<string> folder = new("--folder", "-f") { Description = "Folder of photos to label (recursive), e.g. ../shared/data/dogs-vs-cats (3,000 photos).", Required = true };
    private readonly Option<int> limit = new("--limit") { Description = "Label the folder's first N photos in ordinal order, for a shorter run (0 = all).", DefaultValueFactory = _ => 0 };
    private readonly Option<int> batch = new("--batch", "-b") { Description = "Images per inference, for the folder run and the raw model alike.", DefaultValueFactory = _ => 32 };
    private readonly Option<int> rounds = new("--rounds") { Description = "Rounds per model, each the raw model then folder labelling on the same number of images; each round's ratio is printed, then their median with its range.", DefaultValueFactory = _ => 3 };
    private readonly Option<int> passes = new("--passes") { Description = "Times each labelling run goes through the folder (linked as pass-1/, pass-2/, ...): 2 shows memory that keeps rising in the second pass; 1 halves the run (its memory line has pass 1 alone).", DefaultValueFactory = _ => 2 };
    private readonly Option<string?> video = new("--video") { Description = "Video played as a camera for the live latency figures, once per model after the rounds (e.g. ../shared/data/video/cat.mp4); none = skip." };
    private readonly Option<double> seconds = new("--seconds") { Description = "Seconds of the live run.", DefaultValueFactory = _ => 10 };
    private readonly Option<int> threads = new("--threads") { Description = "ONNX Runtime intra-op threads for the raw model and the app (0 = all cores).", DefaultValueFactory = _ => 0 };

    public LabelCommand()
    {
        Command = new Command("label", "Folder labelling files/s against the raw model (ONNX Runtime alone on the same photos, resized) at the same batch, in alternating rounds: each round's ratio and their median with its range; process memory over the run; live capture-to-label latency. Float and int8 model.")
        {
            model, int8, folder, limit, batch, rounds, passes, video, seconds, threads,
        };
        Command.SetAction(async (parsed, _) =>
        {
            var errors = new List<string>();
            var request = Read(parsed, errors);
            foreach (var error in errors)
            {
                Console.Error.WriteLine($"error: {error}");
            }

            return request is null ? ExitCodes.BadInput : await LabelBenchmark.Run(request);
        });
    }

    public Command Command { get; }

    /// <summary>The request the command line makes, or null with what is wrong in <paramref name="errors"/>.</summary>
    public LabelBenchmarkRequest? Read(ParseResult parsed, ICollection<string> errors)
    {
        var modelPath = parsed.GetValue(model)!;
        if (!File.Exists(modelPath))
        {
            errors.Add($"--model '{modelPath}' does not exist. Train first (trainer train) or export a checkpoint (trainer export).");
        }

        var int8Given = parsed.GetValue(int8);
        var int8Path = int8Given is "none" ? null : int8Given ?? Trainer.Export.Int8Quantizer.Int8Path(modelPath);
        if (int8Given is not null and not "none" && !File.Exists(int8Given))
        {
            errors.Add($"--int8 '{int8Given}' does not exist. Write it with 'trainer export --quantize int8' or 'trainer train --int8', or say --int8 none.");
        }

        var photos = parsed.GetValue(folder)!;
        if (!Directory.Exists(photos) || !Directory.EnumerateFiles(photos, "*", SearchOption.AllDirectories).Any(ImageFile.IsImagePath))
        {
            errors.Add($"--folder '{photos}' must be a folder with photos (e.g. ../shared/data/dogs-vs-cats).");
        }

        var videoPath = parsed.GetValue(video);
        Check(videoPath is null || File.Exists(videoPath), $"--video '{videoPath}' does not exist.", errors);
        Check(parsed.GetValue(batch) is >= 1 and <= 1024, $"--batch {parsed.GetValue(batch)} must be between 1 and 1024.", errors);
        Check(parsed.GetValue(limit) >= 0, $"--limit {parsed.GetValue(limit)} must be 0 (all photos) or more.", errors);
        Check(parsed.GetValue(rounds) >= 1, $"--rounds {parsed.GetValue(rounds)}: at least 1 round is needed.", errors);
        Check(parsed.GetValue(passes) >= 1, $"--passes {parsed.GetValue(passes)}: the folder must be labelled at least once.", errors);
        Check(parsed.GetValue(seconds) > 0, $"--seconds {parsed.GetValue(seconds)} must be more than 0.", errors);
        Check(parsed.GetValue(threads) >= 0, $"--threads {parsed.GetValue(threads)} must be 0 (all cores) or more.", errors);
        if (errors.Count > 0)
        {
            return null;
        }

        return new LabelBenchmarkRequest
        {
            Model = modelPath,
            Int8Model = int8Path is not null && File.Exists(int8Path) ? int8Path : null,
            Folder = photos,
            Limit = parsed.GetValue(limit),
            Batch = parsed.GetValue(batch),
            Rounds = parsed.GetValue(rounds),
            Passes = parsed.GetValue(passes),
            Video = videoPath,
            Seconds = parsed.GetValue(seconds),
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
