using System.Diagnostics;
using DogsVsCats.Vision.Shared;
using DogsVsCats.Vision.Trainer.Export;
using DogsVsCats.Vision.Trainer.Models;
using DogsVsCats.Vision.Trainer.Strategies;
using Microsoft.ML.OnnxRuntime;
using TorchSharp;
using static TorchSharp.torch;

namespace DogsVsCats.Vision.Benchmarks;

/// <summary>
/// What each backbone costs, on this machine: TorchSharp forward (the frozen and features strategies), a finetune
/// step (forward, backward through the last stage, SGD), and the exported model on ONNX Runtime (the realtime app).
/// Weights are random: speed does not depend on their values, so no weights file is needed. resnet18-imagenet is the
/// reference every row is compared with.
/// </summary>
public static class BackboneBenchmark
{
    public static void Run(IReadOnlyList<string> backbones, int batch, double seconds, int threads)
    {
        var cores = threads > 0 ? threads : Environment.ProcessorCount;
        set_num_threads(cores);
        Console.WriteLine($"TorchSharp CPU and ONNX Runtime {OrtEnv.Instance().GetVersionString()} CPU, {cores} threads, {Environment.ProcessorCount} cores; batch {batch}; {seconds:F0} s per figure after warm-up; random weights.");
        Console.WriteLine($"{"backbone",-18} {"input",7} {"forward img/s",14} {"finetune img/s",15} {"ONNX b1 img/s",14} {$"ONNX b{batch} img/s",14} {"forward vs ref",15}");
        double? reference = null;
        foreach (var name in backbones)
        {
            var info = Backbones.Describe(name);
            manual_seed(1);
#pragma warning disable CA2000 // the backbone and head become modules of the model, which disposes them
            using var model = new TransferModel(Backbones.Architecture(name), new ClassifierHead(info.FeatureChannels, 2));
#pragma warning restore CA2000
            var forward = Forward(model, info, batch, seconds);
            var finetune = FinetuneStep(model, info, batch, seconds);
            var (onnx1, onnxBatch) = Onnx(model, info, batch, seconds, cores);
            reference ??= forward;
            Console.WriteLine($"{name,-18} {info.InputWidth,7} {forward,14:F1} {finetune,15:F1} {onnx1,14:F1} {onnxBatch,14:F1} {forward / reference.Value,15:F2}");
        }
    }

    private static double Forward(TransferModel model, BackboneInfo info, int batch, double seconds)
    {
        model.eval();
        using var input = rand(batch, 3, info.InputHeight, info.InputWidth) * 255;
        return Rate(batch, seconds, () =>
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            model.call(input);
        });
    }

    private static double FinetuneStep(TransferModel model, BackboneInfo info, int batch, double seconds)
    {
        StrategyRunner.Freeze(model.Backbone, model.Backbone.LastStage);
        var parameters = model.Backbone.LastStage.parameters().Concat(model.Head.parameters()).ToList();
        using var optimizer = optim.SGD(parameters, 1e-4, momentum: 0.9);
        using var input = rand(batch, 3, info.InputHeight, info.InputWidth) * 255;
        using var labels = randint(0, 2, [batch]);
        model.eval();
        model.Backbone.LastStage.train();
        model.Head.train();
        return Rate(batch, seconds, () =>
        {
            using var scope = NewDisposeScope();
            optimizer.zero_grad();
            nn.functional.cross_entropy(model.call(input), labels).backward();
            optimizer.step();
        });
    }

    private static (double Batch1, double BatchN) Onnx(TransferModel model, BackboneInfo info, int batch, double seconds, int threads)
    {
        var path = Path.Combine(Path.GetTempPath(), $"dogsvscats-bench-{info.Name}-{Environment.ProcessId}.onnx");
        try
        {
            var description = new ModelDescription(["cat", "dog"], info.InputWidth, info.InputHeight, info.Name, info.Preprocessing, "benchmark", 0, 0, DateTimeOffset.Now, ModelExporter.Producer, ModelExporter.ProducerVersion);
            ModelExporter.Export(model, description, path, overwrite: true);
            using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, IntraOpNumThreads = threads };
            using var session = new InferenceSession(path, options);
            return (OnnxRate(session, info, 1, seconds), OnnxRate(session, info, batch, seconds));
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static double OnnxRate(InferenceSession session, BackboneInfo info, int batch, double seconds)
    {
        var pixels = new byte[batch * info.InputHeight * info.InputWidth * 3];
        new Random(1).NextBytes(pixels);
        using var input = OrtValue.CreateTensorValueFromMemory(pixels, [batch, info.InputHeight, info.InputWidth, 3]);
        using var runOptions = new RunOptions();
        var inputs = new Dictionary<string, OrtValue> { [ModelContract.InputName] = input };
        return Rate(batch, seconds, () =>
        {
            using var outputs = session.Run(runOptions, inputs, session.OutputNames);
        });
    }

    /// <summary>Images per second of <paramref name="step"/> on <paramref name="batch"/> images, after two warm-up calls.</summary>
    private static double Rate(int batch, double seconds, Action step)
    {
        step();
        step();
        var clock = Stopwatch.StartNew();
        var runs = 0;
        while (clock.Elapsed.TotalSeconds < seconds || runs < 3)
        {
            step();
            runs++;
        }

        return runs * batch / clock.Elapsed.TotalSeconds;
    }
}
