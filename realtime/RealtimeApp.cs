using DogsVsCats.Vision.Realtime.Hosting;
using DogsVsCats.Vision.Realtime.Inference;
using DogsVsCats.Vision.Realtime.Labelling;
using DogsVsCats.Vision.Realtime.Live;
using DogsVsCats.Vision.Realtime.Serving;
using DogsVsCats.Vision.Shared;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace DogsVsCats.Vision.Realtime;

/// <summary>
/// Picks the mode (live, folder or serve), binds and checks that mode's options at the edge, then builds its host:
/// configuration layers, the classifier and the mode's services. Nothing below reaches back up here.
/// </summary>
internal static class RealtimeApp
{
    public const string EnvironmentPrefix = "DOGSVSCATS_";

    private static string AppSettings => Path.Combine(AppContext.BaseDirectory, "appsettings.json");

    /// <summary>Labels a folder or plays a live source. Exit codes: see <see cref="ExitCodes"/>.</summary>
    public static async Task<int> RunAsync(IReadOnlyDictionary<string, string?> commandLine, CancellationToken cancel)
    {
        var configuration = Configuration(AppSettings, commandLine);
        var errors = new List<string>();
        var mode = Mode.Bind(configuration, errors);
        if (Refused(errors, "realtime --help"))
        {
            return ExitCodes.BadInput;
        }

        var builder = new HostApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true, ContentRootPath = AppContext.BaseDirectory });
        HostSetup.Configure(builder, configuration, mode.Classifier);
        builder.Services.AddSingleton(services => new Classifier(mode.Classifier.Model, mode.Classifier.Device, mode.Classifier.Threads, services.GetRequiredService<ILogger<Classifier>>(), CpuInt8.HasDotProduct, spinning: mode.Folder is null));
        if (mode.Folder is not null)
        {
            builder.Services.AddSingleton(Options.Create(mode.Folder));
            builder.Services.AddHostedService<FolderLabellingService>();
        }
        else
        {
            builder.Services.AddLiveLoop(mode.Live!);
        }

        using var host = builder.Build();
        // The model first: a model that cannot be used stops these modes before anything starts, with exit 2.
        return await RunHostAsync(host, cancel, () => host.Services.GetRequiredService<Classifier>());
    }

    /// <summary>Serves the model over HTTP until stopped (Ctrl+C or SIGTERM drain the queue, then exit 0).</summary>
    public static async Task<int> ServeAsync(IReadOnlyDictionary<string, string?> commandLine, CancellationToken cancel)
    {
        var configuration = Configuration(AppSettings, commandLine);
        var errors = new List<string>();
        var mode = ServeMode.Bind(configuration, errors);
        if (Refused(errors, "realtime serve --help"))
        {
            return ExitCodes.BadInput;
        }

        await using var app = ServeApp.Build(configuration, mode.Classifier, mode.Serve, mode.Live);
        return await RunHostAsync(app, cancel);
    }

    private static bool Refused(List<string> errors, string help)
    {
        foreach (var error in errors)
        {
            Console.Error.WriteLine($"error: {error}");
        }

        if (errors.Count > 0)
        {
            Console.Error.WriteLine($"See '{help}'.");
        }

        return errors.Count > 0;
    }

    private static async Task<int> RunHostAsync(IHost host, CancellationToken cancel, Action? beforeStart = null)
    {
        try
        {
            beforeStart?.Invoke();
            await host.StartAsync(cancel);
        }
        catch (Exception e) when (HostSetup.IsStartFailure(e))
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return ExitCodes.BadInput;
        }

        await host.WaitForShutdownAsync(cancel);
        return host.Services.GetRequiredService<RunOutcome>().ExitCode;
    }

    /// <summary>The configuration layers, each overriding the one before: the settings file, DOGSVSCATS_ variables, the command line.</summary>
    public static IConfigurationRoot Configuration(string appSettings, IReadOnlyDictionary<string, string?> commandLine) =>
        new ConfigurationBuilder()
            .AddJsonFile(appSettings, optional: true)
            .AddEnvironmentVariables(EnvironmentPrefix)
            .AddInMemoryCollection(commandLine)
            .Build();

    /// <summary>One run's mode and its options, bound and checked: folder labelling or the live loop.</summary>
    internal sealed record Mode(ClassifierOptions Classifier, FolderOptions? Folder, LiveOptions? Live)
    {
        public static Mode Bind(IConfiguration configuration, List<string> errors)
        {
            var classifier = OptionBinder.Bind<ClassifierOptions>(configuration, errors);
            classifier.Validate(errors);
            var source = configuration[$"{OptionBinder.Section}:{nameof(LiveOptions.Source)}"];
            // Folder options are bound either way: a sorting option on a live source is an error, not ignored.
            var folder = OptionBinder.Bind<FolderOptions>(configuration, errors);
            if (FolderOptions.IsFolderSource(source))
            {
                folder.Validate(errors);
                return new Mode(classifier, folder, null);
            }

            var live = OptionBinder.Bind<LiveOptions>(configuration, errors);
            live.Validate(errors);
            if (folder.Sort != SortMode.None)
            {
                folder.Validate(errors);
                errors.Add($"--sort {OptionBinder.Text(folder.Sort)} works on a folder or an image; --source '{live.Source}' is neither.");
            }

            return new Mode(classifier, null, live);
        }
    }

    /// <summary>Serve's options, bound and checked; <see cref="Live"/> only when --source names a live source for the page to show.</summary>
    internal sealed record ServeMode(ClassifierOptions Classifier, ServeOptions Serve, LiveOptions? Live)
    {
        public static ServeMode Bind(IConfiguration configuration, List<string> errors)
        {
            var classifier = OptionBinder.Bind<ClassifierOptions>(configuration, errors);
            classifier.Validate(errors);
            var serve = OptionBinder.Bind<ServeOptions>(configuration, errors);
            serve.Validate(errors);
            if (string.IsNullOrWhiteSpace(serve.Source))
            {
                return new ServeMode(classifier, serve, null);
            }

            if (FolderOptions.IsFolderSource(serve.Source))
            {
                errors.Add($"serve --source '{serve.Source}' is a folder or an image; serve plays a camera, video or stream live. Label photos with POST /v1/classify or the page, or a folder with 'realtime --source DIR'.");
            }

            var live = OptionBinder.Bind<LiveOptions>(configuration, errors);
            // A server often has no desktop: the live loop opens a window only when asked to (NoWindow false).
            if (configuration[$"{OptionBinder.Section}:{nameof(LiveOptions.NoWindow)}"] is null)
            {
                live.NoWindow = true;
            }

            live.Validate(errors);
            return new ServeMode(classifier, serve, live);
        }
    }
}
