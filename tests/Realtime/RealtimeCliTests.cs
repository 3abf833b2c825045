using DogsVsCats.Vision.Realtime.Hosting;
using DogsVsCats.Vision.Realtime.Inference;
using DogsVsCats.Vision.Realtime.Labelling;
using DogsVsCats.Vision.Realtime.Live;

namespace DogsVsCats.Vision.Tests.Realtime;

/// <summary>The realtime app as a user runs it: --help and start-up failures, each a child process.</summary>
[Trait("Category", "Slow")]
[Collection(RealtimeProcessGroup.Name)]
public sealed class RealtimeCliTests
{
    [Fact]
    public void Help_EveryOptionsProperty_IsDocumented()
    {
        var (code, output, _) = RealtimeProcess.Run(["--help"]);

        Assert.Equal(0, code);
        foreach (var property in new[] { typeof(ClassifierOptions), typeof(LiveOptions), typeof(FolderOptions) }.SelectMany(t => t.GetProperties()).Where(p => p.CanWrite))
        {
            Assert.Contains(OptionBinder.OptionName(property.Name), output, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Run_NoModel_ExitsWithMessageSayingWhatToDo()
    {
        using var temp = new TempDirectory();

        var (code, _, error) = RealtimeProcess.Run(["--source", temp.Path]);

        Assert.Equal(2, code);
        Assert.Contains("--model is required", error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--threads", "--threads", "many")]
    [InlineData("--bogus", "--bogus")]
    [InlineData("--device 'tpu' is not one of auto, cpu, cuda.", "--device", "tpu")]
    public void Run_WrongOption_ExitsTwoNamingIt(string named, params string[] args)
    {
        using var temp = new TempDirectory();
        var model = Path.Combine(temp.Path, "model.onnx");
        File.WriteAllText(model, "");

        var (code, output, error) = RealtimeProcess.Run(["--model", model, "--source", temp.Path, .. args]);

        Assert.Equal(2, code);
        Assert.Contains(named, error, StringComparison.Ordinal);
        Assert.DoesNotContain("Usage:", output + error, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_BadValuesFromEnvironment_ListsEveryProblem()
    {
        using var temp = new TempDirectory();
        var environment = new Dictionary<string, string>
        {
            ["DOGSVSCATS_REALTIME__MODEL"] = Path.Combine(temp.Path, "missing.onnx"),
            ["DOGSVSCATS_REALTIME__DEVICE"] = "tpu",
            ["DOGSVSCATS_REALTIME__SORT"] = "move",
        };

        var (code, _, error) = RealtimeProcess.Run(["--source", temp.Path], environment);

        Assert.Equal(2, code);
        Assert.Contains("missing.onnx' does not exist", error, StringComparison.Ordinal);
        Assert.Contains("--device 'tpu'", error, StringComparison.Ordinal);
        Assert.Contains("--sort move needs --out", error, StringComparison.Ordinal);
    }
}
