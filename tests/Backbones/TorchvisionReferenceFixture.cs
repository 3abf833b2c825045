using System.Collections.Concurrent;
using System.Diagnostics;
using DogsVsCats.Vision.Trainer.Export;
using DogsVsCats.Vision.Trainer.Models;
using DogsVsCats.Vision.Trainer.Reporting;
using DogsVsCats.Vision.Trainer.Run;
using DogsVsCats.Vision.Trainer.Selection;
using DogsVsCats.Vision.Trainer.Strategies;
using DogsVsCats.Vision.Trainer.Training;

namespace DogsVsCats.Vision.Tests.BackboneTests;

/// <summary>
/// Runs tools/torchvision_reference.py once (Debian's python3-torch and python3-torchvision): randomly initialised
/// torchvision resnet50 and inception_v3 state_dicts (.pth and .safetensors), BatchNorm statistics measured on 12 real
/// photos, and the features PyTorch computes for two of them. About 45 s and 420 MB in a temp folder, deleted afterwards.
/// </summary>
public sealed class TorchvisionReferenceFixture : IDisposable
{
    public TorchvisionReferenceFixture()
    {
        Directory = TestData.NewTempDirectory();
        var start = new ProcessStartInfo(TestData.Python) { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(TestData.RepositoryRoot, "tools", "torchvision_reference.py"));
        start.ArgumentList.Add(Directory);
        foreach (var photo in TestData.RealPhotos("cat", 6).Concat(TestData.RealPhotos("dog", 6)))
        {
            start.ArgumentList.Add(photo);   // BatchNorm statistics of the random networks come from real photos
        }
        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEndAsync();
        Output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"tools/torchvision_reference.py failed (exit {process.ExitCode}); it needs python3-torch and python3-torchvision, which './dogsvscats deps' installs:\n{error.Result}");
        }
    }

    private readonly ConcurrentDictionary<string, Lazy<(RunReport Report, string RunDirectory)>> runs = new();

    public string Directory { get; }

    public string Output { get; }

    /// <summary>
    /// <c>trainer train --strategy all --backbone ARCH --weights ARCH.pth</c> for seconds: 2 epochs each on 8 + 8 real
    /// photos (3 + 3 validation), made once per architecture and shared.
    /// </summary>
    internal (RunReport Report, string RunDirectory) SmallRun(string architecture) => runs.GetOrAdd(architecture, a => new Lazy<(RunReport, string)>(() =>
    {
        var request = new RunRequest
        {
            DataRoot = TestData.DogsVsCatsRoot,
            Strategy = StrategyRegistry.All,
            Backbone = new BackboneSpec(a, Weights(a, ".pth")),
            LimitPerClass = 8,
            ValidationFraction = 0.25,
            OutputRoot = Path.Combine(Directory, "runs-" + a),
            // One plain model, so the export can be compared with the winner's checkpoint.
            Tta = TestTimeAugmentation.None,
            Export = ExportChoice.Winner,
        };
        var settings = new TrainingSettings { BatchSize = 8, Epochs = 2, Patience = 2, CacheDirectory = Path.Combine(Directory, "cache") };
        return TrainingRun.Execute(request, settings, new QuietProgress());
    })).Value;

    public string Weights(string architecture, string extension) => Path.Combine(Directory, $"{architecture}{extension}");

    public string Reference(string architecture) => Path.Combine(Directory, $"{architecture}-reference.safetensors");

    public void Dispose() => System.IO.Directory.Delete(Directory, recursive: true);
}

[CollectionDefinition(Name)]
public sealed class TorchvisionGroup : ICollectionFixture<TorchvisionReferenceFixture>
{
    public const string Name = "torchvision reference weights";
}
