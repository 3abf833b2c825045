using System.Diagnostics;
using DogsVsCats.Vision.Shared;
using DogsVsCats.Vision.Trainer.Data;
using DogsVsCats.Vision.Trainer.Models;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Onnx;

namespace DogsVsCats.Vision.Benchmarks;

/// <summary>
/// The exported model (uint8 BGR in; preprocessing, backbone, head, softmax and CAM inside) against the packaged
/// ResNet18.onnx that only computes the 512-d features from an already normalised float tensor. Same runtime,
/// same options, same batch sizes; the reference's fixed batch of 1 is made dynamic so it can run batch 32.
/// With an int8 model (trainer export --quantize int8) its row follows, with its speed against the float model's,
/// and with a dataset both models' accuracy and log loss on the validation split are measured on the same photos.
/// </summary>
internal static class ExportBenchmark
{
    public static void Run(string modelPath, string? int8Path, string? dataRoot, int[] batches, double seconds, int threads)
    {
        using var options = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            IntraOpNumThreads = threads > 0 ? threads : Environment.ProcessorCount,
            // The reference declares a batch of 1 in its intermediate shapes too; ONNX Runtime warns about that on
            // every batch-32 run although it computes correctly.
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
        };
        using var exported = new InferenceSession(modelPath, options);
        using var reference = new InferenceSession(DynamicBatch(Backbones.ResNet18OnnxPath), options);
        using var int8 = int8Path is null ? null : Int8Session(int8Path, options);
        var metadata = ModelDescription.FromProperties(exported.ModelMetadata.CustomMetadataMap, modelPath);
        var referenceInput = reference.InputMetadata.Keys.Single();
        var (referenceHeight, referenceWidth) = (reference.InputMetadata[referenceInput].Dimensions[2], reference.InputMetadata[referenceInput].Dimensions[3]);
        Console.WriteLine($"ONNX Runtime {OrtEnv.Instance().GetVersionString()} CPU, {options.IntraOpNumThreads} threads, {Environment.ProcessorCount} cores; {seconds:F0} s per row after warm-up.");
        Console.WriteLine($"{"model",-44} {"batch",5} {"images/s",9} {"ms/batch",9} {"vs reference",12} {"vs float",9}");
        var random = new Random(1);
        foreach (var batch in batches)
        {
            var pixels = new byte[batch * metadata.InputHeight * metadata.InputWidth * 3];
            random.NextBytes(pixels);
            // The reference keeps its own fixed input size (224), whatever size the exported model was trained at.
            var floats = new float[batch * 3 * referenceHeight * referenceWidth];
            for (var i = 0; i < floats.Length; i++)
            {
                floats[i] = (float)(random.NextDouble() * 255) - 114;
            }

            var referenceRate = Measure(reference, [NamedOnnxValue.CreateFromTensor(referenceInput, new DenseTensor<float>(floats.AsMemory(), new[] { batch, 3, referenceHeight, referenceWidth }))], batch, seconds);
            var exportedRate = Measure(exported, [NamedOnnxValue.CreateFromTensor(ModelContract.InputName, new DenseTensor<byte>(pixels.AsMemory(), new[] { batch, metadata.InputHeight, metadata.InputWidth, 3 }))], batch, seconds);
            Console.WriteLine($"{$"ResNet18.onnx ({referenceWidth} px, features only, reference)",-44} {batch,5} {referenceRate,9:F1} {1000.0 * batch / referenceRate,9:F1} {"1.00",12} {"",9}");
            Console.WriteLine($"{$"{Path.GetFileName(modelPath)} ({metadata.InputWidth} px, {metadata.Strategy}, tta {metadata.Tta}: + preprocess, head, CAM)",-44} {batch,5} {exportedRate,9:F1} {1000.0 * batch / exportedRate,9:F1} {exportedRate / referenceRate,12:F2} {"1.00",9}");
            if (int8 is not null)
            {
                var int8Rate = Measure(int8, [NamedOnnxValue.CreateFromTensor(ModelContract.InputName, new DenseTensor<byte>(pixels.AsMemory(), new[] { batch, metadata.InputHeight, metadata.InputWidth, 3 }))], batch, seconds);
                Console.WriteLine($"{$"{Path.GetFileName(int8Path)} (int8 QDQ)",-44} {batch,5} {int8Rate,9:F1} {1000.0 * batch / int8Rate,9:F1} {int8Rate / referenceRate,12:F2} {int8Rate / exportedRate,9:F2}");
            }
        }

        if (dataRoot is not null)
        {
            Accuracy(dataRoot, metadata, [(Path.GetFileName(modelPath), exported), .. int8 is null ? [] : new[] { (Path.GetFileName(int8Path)!, int8) }]);
        }
    }

    /// <summary>Opens the int8 model and says how many convolutions ONNX Runtime really runs as int8 kernels.</summary>
    private static InferenceSession Int8Session(string path, SessionOptions options)
    {
        var optimized = Path.Combine(Path.GetTempPath(), $"bench-int8-{Environment.ProcessId}.onnx");
        using var probeOptions = new SessionOptions
        {
            GraphOptimizationLevel = options.GraphOptimizationLevel,
            IntraOpNumThreads = options.IntraOpNumThreads,
            LogSeverityLevel = options.LogSeverityLevel,
            OptimizedModelFilePath = optimized,
        };
        try
        {
            using (new InferenceSession(path, probeOptions))
            {
            }

            using var stream = File.OpenRead(optimized);
            var ops = ModelProto.Parser.ParseFrom(stream).Graph.Node.GroupBy(n => n.OpType).ToDictionary(g => g.Key, g => g.Count());
            Console.WriteLine($"{Path.GetFileName(path)} as ONNX Runtime runs it: {ops.GetValueOrDefault("QLinearConv")} QLinearConv, {ops.GetValueOrDefault("QLinearAdd")} QLinearAdd, {ops.GetValueOrDefault("Conv") + ops.GetValueOrDefault("FusedConv")} float Conv, {ops.GetValueOrDefault("DequantizeLinear")} DequantizeLinear.");
        }
        finally
        {
            File.Delete(optimized);
        }

        return new InferenceSession(path, options);
    }

    /// <summary>Accuracy and log loss of each model on the validation split that 'trainer train' holds out (20 %, seed 42).</summary>
    private static void Accuracy(string dataRoot, ModelDescription metadata, IReadOnlyList<(string Name, InferenceSession Session)> models)
    {
        var split = DatasetScanner.Scan(dataRoot);
        var photos = ImageLoader.Load(split.Validation, metadata.InputWidth, metadata.InputHeight, []);
        Console.WriteLine($"Validation split of {dataRoot}: {photos.Count} photos.");
        Console.WriteLine($"{"model",-44} {"accuracy %",10} {"log loss",9}");
        foreach (var (name, session) in models)
        {
            var (accuracy, logLoss) = Score(session, metadata, photos);
            Console.WriteLine($"{name,-44} {100 * accuracy,10:F2} {logLoss,9:F4}");
        }
    }

    private static (double Accuracy, double LogLoss) Score(InferenceSession session, ModelDescription metadata, DecodedImages photos)
    {
        const int Batch = 32;
        var plane = metadata.InputHeight * metadata.InputWidth * 3;
        var classes = metadata.Labels.Count;
        int right = 0;
        double loss = 0;
        for (var first = 0; first < photos.Count; first += Batch)
        {
            var count = Math.Min(Batch, photos.Count - first);
            var pixels = new byte[count * plane];
            for (var i = 0; i < count; i++)
            {
                photos.Pixels[first + i].CopyTo(pixels, i * plane);
            }

            using var results = session.Run([NamedOnnxValue.CreateFromTensor(ModelContract.InputName, new DenseTensor<byte>(pixels.AsMemory(), new[] { count, metadata.InputHeight, metadata.InputWidth, 3 }))], [ModelContract.ProbabilitiesName]);
            var probabilities = results[0].AsEnumerable<float>().ToArray();   // [count, C]
            for (var i = 0; i < count; i++)
            {
                var row = probabilities.AsSpan(i * classes, classes);
                var truth = photos.Labels[first + i];
                right += ClassProbabilities.TopIndex(row) == truth ? 1 : 0;
                loss -= Math.Log(Math.Max(row[truth], 1e-7));
            }
        }

        return ((double)right / photos.Count, loss / photos.Count);
    }

    private static double Measure(InferenceSession session, IReadOnlyCollection<NamedOnnxValue> inputs, int batch, double seconds)
    {
        for (var i = 0; i < 2; i++)
        {
            using var warm = session.Run(inputs);
        }

        var clock = Stopwatch.StartNew();
        var runs = 0;
        while (clock.Elapsed.TotalSeconds < seconds || runs < 3)
        {
            using var results = session.Run(inputs);
            runs++;
        }

        return runs * batch / clock.Elapsed.TotalSeconds;
    }

    private static byte[] DynamicBatch(string path)
    {
        using var stream = File.OpenRead(path);
        var model = ModelProto.Parser.ParseFrom(stream);
        foreach (var value in model.Graph.Input.Concat(model.Graph.Output))
        {
            value.Type.TensorType.Shape.Dim[0] = new TensorShapeProto.Types.Dimension { DimParam = "N" };
        }

        return model.ToByteArray();
    }
}
