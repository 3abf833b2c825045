using System.Diagnostics;
using DogsVsCats.Vision.Shared;
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
/// </summary>
public static class ExportBenchmark
{
    public static void Run(string modelPath, int[] batches, double seconds, int threads)
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
        var metadata = ModelDescription.FromProperties(exported.ModelMetadata.CustomMetadataMap, modelPath);
        var referenceInput = reference.InputMetadata.Keys.Single();
        Console.WriteLine($"ONNX Runtime {OrtEnv.Instance().GetVersionString()} CPU, {options.IntraOpNumThreads} threads, {Environment.ProcessorCount} cores; {seconds:F0} s per row after warm-up.");
        Console.WriteLine($"{"model",-44} {"batch",5} {"images/s",9} {"ms/batch",9} {"vs reference",12}");
        var random = new Random(1);
        foreach (var batch in batches)
        {
            var pixels = new byte[batch * metadata.InputHeight * metadata.InputWidth * 3];
            random.NextBytes(pixels);
            var floats = new float[batch * 3 * metadata.InputHeight * metadata.InputWidth];
            for (var i = 0; i < floats.Length; i++)
            {
                floats[i] = (float)(random.NextDouble() * 255) - 114;
            }

            var referenceRate = Measure(reference, [NamedOnnxValue.CreateFromTensor(referenceInput, new DenseTensor<float>(floats.AsMemory(), new[] { batch, 3, metadata.InputHeight, metadata.InputWidth }))], batch, seconds);
            var exportedRate = Measure(exported, [NamedOnnxValue.CreateFromTensor(ModelContract.InputName, new DenseTensor<byte>(pixels.AsMemory(), new[] { batch, metadata.InputHeight, metadata.InputWidth, 3 }))], batch, seconds);
            Console.WriteLine($"{"ResNet18.onnx (features only, reference)",-44} {batch,5} {referenceRate,9:F1} {1000.0 * batch / referenceRate,9:F1} {"1.00",12}");
            Console.WriteLine($"{$"{Path.GetFileName(modelPath)} ({metadata.Strategy}: + preprocess, head, CAM)",-44} {batch,5} {exportedRate,9:F1} {1000.0 * batch / exportedRate,9:F1} {exportedRate / referenceRate,12:F2}");
        }
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
