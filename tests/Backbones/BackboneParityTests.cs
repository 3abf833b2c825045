using DogsVsCats.Vision.Trainer.Models;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using OpenCvSharp;
using TorchSharp;
using static TorchSharp.torch;

namespace DogsVsCats.Vision.Tests;

[Trait("Category", "Slow")]
public sealed class BackboneParityTests
{
    [Fact]
    public void CntkResNet18_RealPhotos_MatchesOriginalOnnxFeatures()
    {
        var photos = ParityPhotos(8);
        using var backbone = Backbones.Create(BackboneSpec.Default);
        backbone.eval();
        using var prep = new InferenceSession(Backbones.ResNet18PreprocessOnnxPath);
        using var resnet = new InferenceSession(Backbones.ResNet18OnnxPath);

        foreach (var photo in photos)
        {
            using var bgr = Cv2.ImRead(photo, ImreadModes.Color);
            using var resized = new Mat();
            Cv2.Resize(bgr, resized, new OpenCvSharp.Size(224, 224), interpolation: InterpolationFlags.Area);

            // Original pipeline: RGB planes 0..255 -> ResNetPreprocess.onnx -> ResNet18.onnx -> [1, 512, 1, 1].
            var rgb = new DenseTensor<float>([1, 3, 224, 224]);
            for (var y = 0; y < 224; y++)
            {
                for (var x = 0; x < 224; x++)
                {
                    var p = resized.At<Vec3b>(y, x);
                    rgb[0, 0, y, x] = p.Item2;
                    rgb[0, 1, y, x] = p.Item1;
                    rgb[0, 2, y, x] = p.Item0;
                }
            }

            using var prepOut = prep.Run([NamedOnnxValue.CreateFromTensor("OriginalInput", rgb)]);
            var preprocessed = prepOut[0].AsTensor<float>().ToDenseTensor();
            using var featOut = resnet.Run([NamedOnnxValue.CreateFromTensor("Input247", preprocessed)]);
            var expected = featOut[0].AsEnumerable<float>().ToArray();

            // TorchSharp: BGR planes 0..255 [1, 3, 224, 224] -> feature maps -> global average pool.
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var bytes = new byte[224 * 224 * 3];
            System.Runtime.InteropServices.Marshal.Copy(resized.Data, bytes, 0, bytes.Length);
            var input = tensor(bytes, [1, 224, 224, 3]).permute(0, 3, 1, 2).to_type(ScalarType.Float32);
            var actual = backbone.call(input).mean([2, 3]).data<float>().ToArray();

            Assert.Equal(512, actual.Length);
            Assert.Equal(expected.Length, actual.Length);
            var maxAbs = expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max();
            var dot = expected.Zip(actual, (e, a) => (double)e * a).Sum();
            var cosine = dot / (Norm(expected) * Norm(actual));
            Assert.True(maxAbs <= 1e-3, $"{Path.GetFileName(photo)}: max abs difference {maxAbs:g4} > 1e-3");
            Assert.True(cosine >= 0.99999, $"{Path.GetFileName(photo)}: cosine similarity {cosine:F7} < 0.99999");
        }
    }

    private static double Norm(float[] v) => Math.Sqrt(v.Sum(x => (double)x * x));

    private static List<string> ParityPhotos(int count)
    {
        var root = TestData.DogsVsCatsRoot;
        return [.. Directory.GetFiles(Path.Combine(root, "cat"), "*.jpg").Order(StringComparer.Ordinal).Take(count / 2)
            .Concat(Directory.GetFiles(Path.Combine(root, "dog"), "*.jpg").Order(StringComparer.Ordinal).Take(count - count / 2))];
    }
}
