using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace DogsVsCats.Vision.Realtime.Live;

/// <summary>The live loop's services: capture -> channel -> classify -> outputs, for the label mode and for serve --source.</summary>
public static class LiveServices
{
    public static IServiceCollection AddLiveLoop(this IServiceCollection services, LiveOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
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
