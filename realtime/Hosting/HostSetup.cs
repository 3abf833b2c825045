using DogsVsCats.Vision.Realtime.Inference;
using DogsVsCats.Vision.Shared;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.ML.OnnxRuntime;

namespace DogsVsCats.Vision.Realtime.Hosting;

/// <summary>What every mode's host has: the bound configuration, one-line console logs, the run's outcome and the classifier's options.</summary>
internal static class HostSetup
{
    public static void Configure(IHostApplicationBuilder builder, IConfiguration configuration, ClassifierOptions classifier)
    {
        builder.Configuration.AddConfiguration(configuration);
        builder.Logging.AddConfiguration(configuration.GetSection("Logging"));
        // The host logs a start failure with its stack trace; the app prints the message that says what to fix instead.
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting", LogLevel.None);
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss ";
        });
        builder.Services.Configure<ConsoleLifetimeOptions>(o => o.SuppressStatusMessages = true);
        builder.Services.AddSingleton<RunOutcome>();
        builder.Services.AddSingleton(Options.Create(classifier));
        builder.Services.AddSingleton(classifier);
    }

    /// <summary>The failures at start that mean the model, the device or the source is wrong: exit 2 with the message alone.</summary>
    public static bool IsStartFailure(Exception e) =>
        e is ModelContractException or OnnxRuntimeException or InvalidOperationException or IOException or OpenCvSharp.OpenCVException;
}
