using DogsVsCats.Vision.Shared;

namespace DogsVsCats.Vision.Tests.Shared;

[Trait("Category", "Fast")]
public sealed class ModelDescriptionTests
{
    private static readonly ModelDescription Valid = new(
        ["cat", "dog"], 224, 224, "resnet18-imagenet", "bgr-minus-mean-image", "features", 0.0321, 0.9867,
        new DateTimeOffset(2026, 11, 29, 12, 0, 0, TimeSpan.Zero), "DogsVsCats.Vision trainer", "1.0.0");

    [Fact]
    public void FromProperties_WhatToPropertiesWrote_ReadsItBack()
    {
        var read = ModelDescription.FromProperties(Valid.ToProperties(), "model.onnx");

        Assert.Equal(Valid.Labels, read.Labels);
        Assert.Equal(Valid with { Labels = read.Labels }, read);
    }

    [Fact]
    public void FromProperties_TtaTemperatureAndMembers_ReadBack()
    {
        var ensemble = Valid with { Strategy = "ensemble", Tta = ModelContract.TtaModes.Flip, Temperature = 0.756, Members = ["frozen", "features", "finetune"] };

        var read = ModelDescription.FromProperties(ensemble.ToProperties(), "model.onnx");

        Assert.Equal(ModelContract.TtaModes.Flip, read.Tta);
        Assert.Equal(0.756, read.Temperature);
        Assert.Equal(["frozen", "features", "finetune"], read.Members);
        Assert.Equal("0.756", ensemble.ToProperties()[ModelContract.Keys.Temperature]);
    }

    [Fact]
    public void FromProperties_FileWithoutTheOptionalKeys_IsOnePlainPassAtTemperatureOne()
    {
        var properties = Valid.ToProperties().Where(p => p.Key is not (ModelContract.Keys.Tta or ModelContract.Keys.Temperature or ModelContract.Keys.Members)).ToDictionary();

        var read = ModelDescription.FromProperties(properties, "model.onnx");

        Assert.Equal(ModelContract.TtaModes.None, read.Tta);
        Assert.Equal(1, read.Temperature);
        Assert.Empty(read.Members);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-1")]
    [InlineData("warm")]
    public void FromProperties_TemperatureNotAbove0_IsRejected(string value)
    {
        var properties = Valid.ToProperties().ToDictionary();
        properties[ModelContract.Keys.Temperature] = value;

        var error = Assert.Throws<ModelContractException>(() => ModelDescription.FromProperties(properties, "model.onnx"));

        Assert.Contains(ModelContract.Keys.Temperature, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("dogsvscats.contract_version", "2", "contract version 2")]
    [InlineData("dogsvscats.contract_version", "one", "whole number")]
    [InlineData("dogsvscats.resize_rule", "stretch", "resized by rule 'stretch'")]
    [InlineData("dogsvscats.interpolation", "INTER_LINEAR", "interpolation 'INTER_LINEAR'")]
    [InlineData("dogsvscats.channel_order", "RGB", "expects RGB pixels")]
    [InlineData("dogsvscats.labels", "[\"cat\"]", "at least two")]
    [InlineData("dogsvscats.labels", "[\"cat\", \"\"]", "at least two non-empty")]
    [InlineData("dogsvscats.labels", "[\"cat\", \"cat\"]", "twice")]
    [InlineData("dogsvscats.labels", "cat,dog", "not a JSON list")]
    [InlineData("dogsvscats.input_width", "0", "from 1 to 4096")]
    [InlineData("dogsvscats.input_height", "-224", "from 1 to 4096")]
    [InlineData("dogsvscats.input_height", "100000", "from 1 to 4096")]
    [InlineData("dogsvscats.input_width", "224.5", "whole number")]
    [InlineData("dogsvscats.validation_loss", "NaN", "not a number")]
    [InlineData("dogsvscats.validation_loss", "-0.1", "not a number")]
    [InlineData("dogsvscats.validation_accuracy", "1.5", "from 0 to 1")]
    [InlineData("dogsvscats.trained_at", "yesterday", "not a date")]
    [InlineData("dogsvscats.backbone", " ", "has no 'dogsvscats.backbone'")]
    public void FromProperties_WrongValue_IsRejectedNamingIt(string key, string value, string expected)
    {
        var properties = new Dictionary<string, string>(Valid.ToProperties()) { [key] = value };

        var error = Assert.Throws<ModelContractException>(() => ModelDescription.FromProperties(properties, "model.onnx"));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.StartsWith("model.onnx", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FromProperties_EveryKeyMissing_IsRejectedNamingTheKeyAndTheExportCommand()
    {
        // tta, temperature and members are optional: files written before them must still load.
        string[] optional = [ModelContract.Keys.Tta, ModelContract.Keys.Temperature, ModelContract.Keys.Members];
        foreach (var key in Valid.ToProperties().Keys.Except(optional))
        {
            var properties = new Dictionary<string, string>(Valid.ToProperties());
            properties.Remove(key);

            var error = Assert.Throws<ModelContractException>(() => ModelDescription.FromProperties(properties, "model.onnx"));

            Assert.Contains($"'{key}'", error.Message, StringComparison.Ordinal);
            Assert.Contains("trainer export", error.Message, StringComparison.Ordinal);
        }
    }
}
