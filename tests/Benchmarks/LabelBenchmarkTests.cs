using DogsVsCats.Vision.Benchmarks;

namespace DogsVsCats.Vision.Tests.Benchmarks;

/// <summary>
/// bench label without running the app: its command line makes the request it says (rounds, passes, the int8 model)
/// and refuses what it cannot run, and the rounds' ratios are summed up as a median with its range.
/// </summary>
[Trait("Category", "Fast")]
public sealed class LabelBenchmarkTests : IDisposable
{
    private readonly DirectoryInfo work = Directory.CreateTempSubdirectory("dogsvscats-label-bench-test-");

    public void Dispose() => work.Delete(recursive: true);

    [Fact]
    public void Read_RoundsPassesAndBatch_MakeTheRequest_Int8BesideTheModel()
    {
        var (model, photos) = Files(withInt8: true);
        var label = new LabelCommand();
        var parsed = label.Command.Parse(["--model", model, "--folder", photos, "--rounds", "5", "--passes", "1", "--limit", "1000", "-b", "16", "--threads", "2", "--seconds", "4"]);
        Assert.Empty(parsed.Errors);
        var errors = new List<string>();
        var request = label.Read(parsed, errors);

        Assert.Empty(errors);
        Assert.NotNull(request);
        Assert.Equal((5, 1, 16, 2, 4.0), (request.Rounds, request.Passes, request.Batch, request.Threads, request.Seconds));
        Assert.Equal((photos, 1000), (request.Folder, request.Limit));
        Assert.Equal(Path.ChangeExtension(model, ".int8.onnx"), request.Int8Model);
        Assert.Null(request.Video);
    }

    [Fact]
    public void Read_Defaults_ThreeRoundsTwoPassesBatch32_Int8NoneMeasuresTheModelAlone()
    {
        var (model, photos) = Files(withInt8: true);
        var label = new LabelCommand();
        var request = label.Read(label.Command.Parse(["-m", model, "-f", photos]), new List<string>());
        Assert.NotNull(request);
        Assert.Equal((3, 2, 32, 0), (request.Rounds, request.Passes, request.Batch, request.Limit));
        Assert.NotNull(request.Int8Model);

        var alone = label.Read(label.Command.Parse(["-m", model, "-f", photos, "--int8", "none"]), new List<string>());
        Assert.NotNull(alone);
        Assert.Null(alone.Int8Model);

        var (other, otherPhotos) = Files(withInt8: false, name: "other");
        var none = label.Read(label.Command.Parse(["-m", other, "-f", otherPhotos]), new List<string>());
        Assert.NotNull(none);
        Assert.Null(none.Int8Model);
    }

    [Fact]
    public void Read_WhatCannotRun_IsRefusedWithWhatToFix()
    {
        var (model, photos) = Files(withInt8: false);
        var label = new LabelCommand();
        var errors = new List<string>();
        var request = label.Read(label.Command.Parse(["--model", model, "--folder", photos, "--rounds", "0", "--passes", "0", "--limit", "-1", "--batch", "0", "--int8", Path.Combine(work.FullName, "missing.onnx"), "--video", Path.Combine(work.FullName, "missing.mp4"), "--seconds", "0", "--threads", "-1"]), errors);

        Assert.Null(request);
        string[] named = ["--rounds 0", "--passes 0", "--limit -1", "--batch 0", "--int8", "--video", "--seconds 0", "--threads -1"];
        Assert.All(named, n => Assert.Contains(errors, e => e.StartsWith(n, StringComparison.Ordinal)));
        Assert.Equal(named.Length, errors.Count);

        var empty = Directory.CreateDirectory(Path.Combine(work.FullName, "empty")).FullName;
        var noPhotos = new List<string>();
        Assert.Null(label.Read(label.Command.Parse(["--model", Path.Combine(work.FullName, "missing.onnx"), "--folder", empty]), noPhotos));
        Assert.Equal(2, noPhotos.Count);
        Assert.Contains(noPhotos, e => e.StartsWith("--model", StringComparison.Ordinal));
        Assert.Contains(noPhotos, e => e.StartsWith("--folder", StringComparison.Ordinal));
        Assert.NotEmpty(label.Command.Parse(["--model", model, "--folder", photos, "--rounds", "x"]).Errors);
    }

    [Fact]
    public void Help_EveryOptionIsDescribed_LabelIsABenchCommand()
    {
        var label = new LabelCommand();

        Assert.All(label.Command.Options, o => Assert.False(string.IsNullOrWhiteSpace(o.Description), o.Name));
        string[] options = ["--model", "--int8", "--folder", "--limit", "--batch", "--rounds", "--passes", "--video", "--seconds", "--threads"];
        Assert.All(options, o => Assert.Contains(label.Command.Options, c => c.Name == o));
        var bench = Assert.Single(BenchCli.Build().Subcommands, c => c.Name == "label");
        Assert.Contains(bench.Options, o => o.Name == "--rounds");
    }

    [Fact]
    public void Ratio_MedianOfTheRoundsWithTheirRange()
    {
        Assert.Equal("0.92 x (0.87-1.03)", LabelBenchmark.Ratio([0.87, 1.03, 0.92]));
        Assert.Equal("0.95 x (0.90-1.00)", LabelBenchmark.Ratio([1.0, 0.9]));
        Assert.Equal("0.97 x", LabelBenchmark.Ratio([0.97]));
    }

    [Fact]
    public void DecodingBound_PreprocessingOnTopOfInference()
    {
        // 2 cores at 107 images/s: 18.7 core-ms of inference a photo; 0.90 core-ms of decoding and resize on top.
        Assert.Equal(0.954, LabelBenchmark.DecodingBound(2 * 1000 / 107.0, 0.90), 3);
        Assert.Equal(1.0, LabelBenchmark.DecodingBound(18.7, 0), 6);
        Assert.True(LabelBenchmark.DecodingBound(54.5, 0.71) > LabelBenchmark.DecodingBound(18.7, 0.71), "a slower model hides the same decoding better");
        Assert.Throws<ArgumentOutOfRangeException>(() => LabelBenchmark.DecodingBound(0, 0.9));
        Assert.Throws<ArgumentOutOfRangeException>(() => LabelBenchmark.DecodingBound(18.7, -1));
    }

    private (string Model, string Photos) Files(bool withInt8, string name = "model")
    {
        // Only their existence is read here; nothing is loaded.
        var model = Path.Combine(work.FullName, $"{name}.onnx");
        File.WriteAllBytes(model, [0]);
        if (withInt8)
        {
            File.WriteAllBytes(Path.Combine(work.FullName, $"{name}.int8.onnx"), [0]);
        }

        var photos = Directory.CreateDirectory(Path.Combine(work.FullName, $"{name}-photos", "cat")).Parent!.FullName;
        File.WriteAllBytes(Path.Combine(photos, "cat", "1.jpg"), [0xFF, 0xD8]);
        return (model, photos);
    }
}
