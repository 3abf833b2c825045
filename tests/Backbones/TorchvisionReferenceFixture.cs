using System.Diagnostics;

namespace DogsVsCats.Vision.Tests.BackboneTests;

/// <summary>
/// Runs tools/torchvision_reference.py once (Debian's python3-torch and python3-torchvision): randomly initialised
/// torchvision resnet50 and inception_v3 state_dicts (.pth and .safetensors) and the features PyTorch computes for
/// fixed inputs. About 30 s and 420 MB in a temp folder, deleted afterwards.
/// </summary>
public sealed class TorchvisionReferenceFixture : IDisposable
{
    public TorchvisionReferenceFixture()
    {
        Directory = TestData.NewTempDirectory();
        var python = File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
        var start = new ProcessStartInfo(python) { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(TestData.RepositoryRoot, "tools", "torchvision_reference.py"));
        start.ArgumentList.Add(Directory);
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

    public string Directory { get; }

    public string Output { get; }

    public string Weights(string architecture, string extension) => Path.Combine(Directory, $"{architecture}{extension}");

    public string Reference(string architecture) => Path.Combine(Directory, $"{architecture}-reference.safetensors");

    public void Dispose() => System.IO.Directory.Delete(Directory, recursive: true);
}

[CollectionDefinition(Name)]
public sealed class TorchvisionGroup : ICollectionFixture<TorchvisionReferenceFixture>
{
    public const string Name = "torchvision reference weights";
}
