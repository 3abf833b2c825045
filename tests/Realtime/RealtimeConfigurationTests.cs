using DogsVsCats.Vision.Realtime;
using DogsVsCats.Vision.Realtime.Cli;
using DogsVsCats.Vision.Realtime.Labelling;
using DogsVsCats.Vision.Shared;

namespace DogsVsCats.Vision.Tests.Realtime;

/// <summary>
/// The realtime app's configuration layers, with all three present: the settings file, then DOGSVSCATS_REALTIME__
/// variables, then the command line, each overriding the one before. The variables are the process's own, so these
/// tests run apart from every other (a child process started beside them would inherit them).
/// </summary>
[Trait("Category", "Fast")]
[Collection(ProcessEnvironmentGroup.Name)]
public sealed class RealtimeConfigurationTests : IDisposable
{
    private readonly TempDirectory temp = new();

    private readonly List<string> variables = [];

    public void Dispose()
    {
        foreach (var name in variables)
        {
            Environment.SetEnvironmentVariable(name, null);
        }

        temp.Dispose();
    }

    [Fact]
    public async Task Bind_SettingsFileVariablesAndCommandLine_EachOverridesTheOneBefore()
    {
        var model = Path.Combine(temp.Path, "model.onnx");
        File.WriteAllText(model, "");
        var settings = Path.Combine(temp.Path, "appsettings.json");
        File.WriteAllText(settings, $$"""
            { "Realtime": { "Model": {{System.Text.Json.JsonSerializer.Serialize(model)}}, "MinConfidence": 0.7, "Threads": 2, "Batch": 4, "Sort": "copy", "Out": "from-file" } }
            """);
        Variable("MINCONFIDENCE", "0.8");
        Variable("THREADS", "3");
        Variable("SORT", "move");
        Variable("CSV", "from-variable.csv");

        var mode = await Bind(["--min-confidence", "0.9", "--sort", "none", "--source", temp.Path], settings);

        Assert.Equal(0.9, mode.Classifier.MinConfidence);   // all three: the command line
        Assert.Equal(3, mode.Classifier.Threads);           // file and variable: the variable
        Assert.Equal(SortMode.None, mode.Folder!.Sort);     // a choice, all three: the command line
        Assert.Equal("from-variable.csv", mode.Folder.Csv); // the variable alone
        Assert.Equal(4, mode.Folder.Batch);                 // the file alone
        Assert.Equal("from-file", mode.Folder.Out);
        Assert.Equal(model, mode.Classifier.Model);

        // Without the command line's values the variables show through; without those, the file.
        Assert.Equal((0.8, SortMode.Move), Pair(await Bind(["--source", temp.Path], settings)));
        foreach (var name in variables)
        {
            Environment.SetEnvironmentVariable(name, null);
        }

        Assert.Equal((0.7, SortMode.Copy), Pair(await Bind(["--source", temp.Path], settings)));
    }

    private static (double, SortMode) Pair(RealtimeApp.Mode mode) => (mode.Classifier.MinConfidence, mode.Folder!.Sort);

    private void Variable(string key, string value)
    {
        var name = $"{RealtimeApp.EnvironmentPrefix}REALTIME__{key}";
        variables.Add(name);
        Environment.SetEnvironmentVariable(name, value);
    }

    private static async Task<RealtimeApp.Mode> Bind(string[] args, string settings)
    {
        IReadOnlyDictionary<string, string?>? overrides = null;
        var root = RealtimeCli.Build((values, _) =>
        {
            overrides = values;
            return Task.FromResult(ExitCodes.Ok);
        }, (_, _) => Task.FromResult(1));
        Assert.Equal(ExitCodes.Ok, await CommandLineRun.InvokeAsync(root, args, TextWriter.Null));
        var errors = new List<string>();
        var mode = RealtimeApp.Mode.Bind(RealtimeApp.Configuration(settings, overrides!), errors);
        Assert.Empty(errors);
        return mode;
    }
}

/// <summary>Tests that change the process's environment variables: one at a time, apart from every other test.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ProcessEnvironmentGroup
{
    public const string Name = "process environment";
}
