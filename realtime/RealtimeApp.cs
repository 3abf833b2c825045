using DogsVsCats.Vision.Realtime.Inference;
using DogsVsCats.Vision.Realtime.Labelling;
using DogsVsCats.Vision.Realtime.Live;
using DogsVsCats.Vision.Shared;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.ML.OnnxRuntime;

namespace DogsVsCats.Vision.Realtime;

/// <summary>Builds the host: configuration layers, validated options, the classifier and the service for the source.</summary>
public static class RealtimeApp
{
    public const string EnvironmentPrefix = "DOGSVSCATS_";

    /// <summary>Exit codes: 0 done, 1 failed while running, 2 nothing ran (options, model or source wrong).</summary>
    public static async Task<int> RunAsync(IReadOnlyDictionary<string, string?> commandLine, CancellationToken cancel)
    {
        var builder = new HostApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true, ContentRootPath = AppContext.BaseDirectory });
        builder.Configuration
            .AddJsonFile(Path.Combine(AppContext.BaseDirectory, "appsettings.json"), optional: true)
            .AddEnvironmentVariables(EnvironmentPrefix)
            .AddInMemoryCollection(commandLine);
        builder.Logging.AddConfiguration(builder.Configuration.GetSection("Logging"));
        // The host logs a start failure with its stack trace; RunAsync prints the message that says what to fix instead.
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting", LogLevel.None);
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss ";
        });
        builder.Services.Configure<ConsoleLifetimeOptions>(o => o.SuppressStatusMessages = true);
        // The edge: options are bound and checked once, here, before anything is built from them.
        var errors = new List<string>();
        var options = RealtimeOptions.Bind(builder.Configuration, errors);
        if (new RealtimeOptionsValidator().Validate(null, options) is { Failed: true } invalid)
        {
            errors.AddRange(invalid.Failures);
        }

        if (errors.Count > 0)
        {
            foreach (var error in errors)
            {
                Console.Error.WriteLine($"error: {error}");
            }

            Console.Error.WriteLine("See 'realtime --help'.");
            return ExitCodes.BadInput;
        }

        builder.Services.AddSingleton(Options.Create(options));
        builder.Services.AddSingleton<RunOutcome>();
        builder.Services.AddSingleton(services => new Classifier(options.Model, options.Device, options.Threads, services.GetRequiredService<ILogger<Classifier>>()));
        if (options.IsFolderSource)
        {
            builder.Services.AddHostedService<FolderLabellingService>();
        }
        else
        {
            // Real-time pacing makes a file behave as a camera: only the newest frame is kept. A file played as a file keeps every frame.
            var live = options.RealtimePacing || !new LiveSource(options.Source).IsVideoFile;
            builder.Services.AddSingleton(new FrameChannel(live));
            builder.Services.AddSingleton<CaptureService>();
            builder.Services.AddHostedService(services => services.GetRequiredService<CaptureService>());
            builder.Services.AddHostedService<FrameLoopService>();
        }

        using var host = builder.Build();
        try
        {
            await host.StartAsync(cancel);
        }
        catch (Exception e) when (e is ModelContractException or OnnxRuntimeException or InvalidOperationException or IOException or OpenCvSharp.OpenCVException)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return ExitCodes.BadInput;
        }

        await host.WaitForShutdownAsync(cancel);
        return host.Services.GetRequiredService<RunOutcome>().ExitCode;
    }
}

/// <summary>What the work services report back to Main.</summary>
public sealed class RunOutcome
{
    public int ExitCode { get; set; }
}
