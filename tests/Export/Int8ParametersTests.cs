using DogsVsCats.Vision.Shared;
using DogsVsCats.Vision.Trainer.Export;

namespace DogsVsCats.Vision.Tests.Export;

/// <summary>Quantization parameters and the optional metadata keys of an int8 model, without a model.</summary>
[Trait("Category", "Fast")]
public sealed class Int8ParametersTests
{
    [Fact]
    public void UInt8Parameters_NonNegativeRange_ZeroPointZeroSoOnnxRuntimeDropsTheRelu()
    {
        var (scale, zeroPoint) = ActivationRanges.UInt8Parameters(0, 10.2f);

        Assert.Equal(0, zeroPoint);
        Assert.Equal(10.2f / 255, scale, 6);
    }

    [Fact]
    public void UInt8Parameters_SignedRange_CoversItAndHoldsZeroExactly()
    {
        var (scale, zeroPoint) = ActivationRanges.UInt8Parameters(-1f, 3f);

        Assert.Equal(64, zeroPoint);
        Assert.True((0 - zeroPoint) * scale <= -1f + (scale / 2), "the minimum is not covered");
        Assert.True((255 - zeroPoint) * scale >= 3f - (scale / 2), "the maximum is not covered");
    }

    [Fact]
    public void EvenlySpaced_MoreItemsThanWanted_SpreadsOverAll()
    {
        var picked = CalibrationPhotos.EvenlySpaced([.. Enumerable.Range(0, 100)], 4);

        Assert.Equal([0, 25, 50, 75], picked);
        Assert.Equal([0, 1, 2], CalibrationPhotos.EvenlySpaced([0, 1, 2], 4));
    }

    [Fact]
    public void ModelDescription_QuantizationKeys_RoundTripAndStayOptional()
    {
        var float32 = new ModelDescription(["cat", "dog"], 224, 224, "resnet18-imagenet", "mean image", "features", 0.03, 0.99, DateTimeOffset.UnixEpoch, "test", "1");
        var int8 = float32 with { Quantization = "int8-qdq: test", CalibrationImages = 300 };

        var readFloat = ModelDescription.FromProperties(float32.ToProperties(), "float.onnx");
        var readInt8 = ModelDescription.FromProperties(int8.ToProperties(), "int8.onnx");

        Assert.DoesNotContain(ModelContract.Keys.Quantization, float32.ToProperties().Keys);
        Assert.Null(readFloat.Quantization);
        Assert.Null(readFloat.CalibrationImages);
        Assert.Equal("float32", readFloat.Precision);
        Assert.Equal("int8-qdq: test", readInt8.Quantization);
        Assert.Equal(300, readInt8.CalibrationImages);
        Assert.Equal("int8", readInt8.Precision);
    }
}
