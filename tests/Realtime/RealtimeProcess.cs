using System.Diagnostics;
using System.Security.Cryptography;
using DogsVsCats.Vision.Tests.Fixtures;

namespace DogsVsCats.Vision.Tests.Realtime;

/// <summary>Runs the built realtime app (realtime.dll beside the tests) as a child process, as a user would.</summary>
public static class RealtimeProcess
{
    public static ProcessStartInfo StartInfo(IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null, IReadOnlyList<string>? wrapper = null)
    {
        // A wrapper (a virtual display) runs dotnet under it.
        var start = new ProcessStartInfo(wrapper?[0] ?? "dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in wrapper?.Skip(1).Append("dotnet") ?? [])
        {
            start.ArgumentList.Add(arg);
        }

        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "realtime.dll"));
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }

        return start;
    }

    public static (int Code, string Output, string Error) Run(IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null, int timeoutSeconds = 120, IReadOnlyList<string>? wrapper = null)
    {
        using var process = Process.Start(StartInfo(args, environment, wrapper))!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(timeoutSeconds)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"realtime {string.Join(' ', args)} did not finish in {timeoutSeconds} s; output so far:\n{output.Result}");
        }

        return (process.ExitCode, output.Result, error.Result);
    }

    /// <summary>SHA-256 of every file under <paramref name="root"/> (hidden partial copies excluded), as hash -> paths.</summary>
    public static Dictionary<string, List<string>> HashFiles(string root, Func<string, bool>? include = null)
    {
        var hashes = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        if (!Directory.Exists(root))
        {
            return hashes;
        }

        foreach (var file in Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories).Where(f => include?.Invoke(f) ?? true))
        {
            var hash = Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(file)));
            if (!hashes.TryGetValue(hash, out var paths))
            {
                hashes[hash] = paths = [];
            }

            paths.Add(file);
        }

        return hashes;
    }
}

/// <summary>
/// Tests that run the realtime app as a child process or open a window. They run one at a time and apart from every
/// other test, so a timing they check is not skewed by training beside them; they share one small training run's model.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class RealtimeProcessGroup : ICollectionFixture<SmallRunFixture>
{
    public const string Name = "realtime processes";
}
