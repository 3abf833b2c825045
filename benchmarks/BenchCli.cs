using System.CommandLine;

namespace DogsVsCats.Vision.Benchmarks;

public static class BenchCli
{
    public static RootCommand Build()
    {
        var root = new RootCommand("DogsVsCats.Vision benchmarks: figures printed side by side with a reference.");
        var model = new Option<string>("--model", "-m") { Description = "Exported model.onnx (from 'trainer train' or 'trainer export').", Required = true };
        var batches = new Option<int[]>("--batch") { Description = "Batch sizes to measure.", DefaultValueFactory = _ => [1, 32], AllowMultipleArgumentsPerToken = true };
        var seconds = new Option<double>("--seconds") { Description = "Timed seconds per model and batch size (after warm-up).", DefaultValueFactory = _ => 10 };
        var threads = new Option<int>("--threads") { Description = "ONNX Runtime intra-op threads (0 = all cores).", DefaultValueFactory = _ => 0 };
        var export = new Command("export", "Images/s of the exported model against the original ResNet18.onnx features model, both on ONNX Runtime CPU.")
        {
            model, batches, seconds, threads,
        };
        export.SetAction(parsed =>
        {
            if (!File.Exists(parsed.GetValue(model)))
            {
                Console.Error.WriteLine($"error: '{parsed.GetValue(model)}' does not exist. Train first (trainer train) or export a checkpoint (trainer export).");
                return 2;
            }

            ExportBenchmark.Run(parsed.GetValue(model)!, parsed.GetValue(batches)!, parsed.GetValue(seconds), parsed.GetValue(threads));
            return 0;
        });
        root.Subcommands.Add(export);
        return root;
    }
}
