using DogsVsCats.Vision.Realtime.Inference;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace DogsVsCats.Vision.Realtime.Live;

/// <summary>The live loop's services: capture -> channel -> classify -> outputs, for the label mode and for serve --source.</summary>
internal static class LiveServices
{
    /// <param name="role">Where the loop's classifier comes from and whether its end ends the app; null: the live mode's
    /// own (the app's <see cref="Classifier"/>, and the app ends with the loop).</param>
    public static IServiceCollection AddLiveLoop(this IServiceCollection services, LiveOptions options, Func<IServiceProvider, LiveLoopRole>? role = null)
    {
        services.AddSingleton(role ?? (s => new LiveLoopRole(s.GetRequiredService<Classifier>, EndsApp: true)));
        // Real-time pacing makes a file behave as a camera: only the newest frame is kept. A file played as a file keeps every frame.
        var live = options.RealtimePacing || !new LiveSource(options.Source).IsVideoFile;
        services.AddSingleton(Options.Create(options));
        services.AddSingleton(new FrameChannel(live));
        services.AddSingleton<CaptureService>();
        services.AddHostedService(s => s.GetRequiredService<CaptureService>());
        services.AddHostedService<FrameLoopService>();
        return services;
    }
}

/// <summary>How the live loop sits in its app.</summary>
/// <param name="Load">Gives the loop its classifier, called on the loop's thread as it starts, so that a model still
/// loading never holds up the app's other services (serve's health endpoints answer from the first moment).</param>
/// <param name="EndsApp">The live mode: the loop is the app, and its end (source over, quit, --duration) ends it.
/// serve --source: the loop is one view of a server that goes on serving after it.</param>
internal sealed record LiveLoopRole(Func<Classifier> Load, bool EndsApp);
