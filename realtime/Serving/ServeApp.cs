using System.Net;
using DogsVsCats.Vision.Realtime.Hosting;
using DogsVsCats.Vision.Realtime.Inference;
using DogsVsCats.Vision.Realtime.Live;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Prometheus;

namespace DogsVsCats.Vision.Realtime.Serving;

/// <summary>
/// The serve mode's host: ASP.NET Core's Kestrel (from the shared framework) with only what the server uses, the
/// same configuration layers and logs as the other modes, and the model loaded in the background.
/// </summary>
internal static class ServeApp
{
    public static WebApplication Build(IConfiguration configuration, ClassifierOptions classifier, ServeOptions options, LiveOptions? live = null)
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory });
        HostSetup.Configure(builder, configuration, classifier);
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        builder.WebHost.UseKestrelCore();
        builder.Configuration.AddInMemoryCollection([new(WebHostDefaults.ServerUrlsKey, string.Join(';', options.UrlList))]);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = options.MaxRequestBytes;
            // A client that trickles its headers is cut off after this; one that trickles its body falls under
            // Kestrel's minimum data rate (240 bytes/s after a 5 s grace).
            kestrel.Limits.RequestHeadersTimeout = TimeSpan.FromSeconds(10);
        });
        builder.Services.AddRoutingCore();
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(options.DrainSeconds));
        if (options.CorsOriginList.Count > 0)
        {
            builder.Services.AddCors(cors => cors.AddDefaultPolicy(policy => policy
                .WithOrigins([.. options.CorsOriginList]).AllowAnyMethod().AllowAnyHeader()
                .WithExposedHeaders(InferRequest.HeaderLength, ServeEndpoints.ServerTimingHeader)));
        }

        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton<ServeMetrics>();
        builder.Services.AddSingleton<ModelHost>();
        builder.Services.AddHostedService(services => services.GetRequiredService<ModelHost>());
        if (live is not null)
        {
            LiveFeed.AddTo(builder.Services, live, classifier);
        }

        var app = builder.Build();
        var metrics = app.Services.GetRequiredService<ServeMetrics>();
        var logger = app.Services.GetRequiredService<ILogger<ModelHost>>();
        PageEndpoints.UseFiles(app);
        app.UseRouting();
        app.Use((context, next) => Measure(context, next, metrics));
        app.Use((context, next) => Refusals(context, next, logger));
        if (options.CorsOriginList.Count > 0)
        {
            app.UseCors();
        }

        if (options.ApiKey is { } key)
        {
            var check = new ApiKeyCheck(key);
            app.Use((context, next) => ApiKeyCheck.Guards(context.Request.Path) && !check.Allows(context.Request.Headers.Authorization)
                ? ApiKeyCheck.RefuseAsync(context)
                : next(context));
        }

        ServeEndpoints.Map(app, app.Services.GetRequiredService<ModelHost>(), options, metrics, classifier.MinConfidence);
        PageEndpoints.Map(app, app.Services.GetRequiredService<ModelHost>(), options, app.Services.GetService<LiveFeed>(), classifier.MinConfidence);
        app.MapFallback(context => ErrorResponse.WriteAsync(context, StatusCodes.Status404NotFound, $"No endpoint {context.Request.Method} {context.Request.Path}: see GET /v2 and /v2/models/{options.ModelName}, POST /v2/models/{options.ModelName}/infer or /v1/classify."));
        foreach (var warning in BeyondLoopback(options))
        {
            logger.LogWarning("{Warning}", warning);
        }

        return app;
    }

    /// <summary>The warning line for each address the server would listen on beyond this machine (none for loopback).</summary>
    public static IEnumerable<string> BeyondLoopback(ServeOptions options)
    {
        return options.UrlList.Where(u => !IsLoopback(u))
            .Select(url => $"Listening on {url}: beyond this machine, for anyone who can reach it{(options.ApiKey is null ? " (consider --api-key)" : ", with an API key")}.");
    }

    public static bool IsLoopback(string url)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri))
        {
            return false;
        }

        return uri.IsLoopback || (IPAddress.TryParse(uri.Host.Trim('[', ']'), out var address) && IPAddress.IsLoopback(address));
    }

    private static async Task Measure(HttpContext context, RequestDelegate next, ServeMetrics metrics)
    {
        var endpoint = (context.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText ?? "other";
        using (metrics.RequestDuration.WithLabels(endpoint).NewTimer())
        {
            try
            {
                await next(context);
            }
            finally
            {
                metrics.Requests.WithLabels(endpoint, context.Response.StatusCode.ToString(System.Globalization.CultureInfo.InvariantCulture)).Inc();
            }
        }
    }

    /// <summary>Every refusal as {"error": ...}: the protocol's own, Kestrel's limits, and a failure inside (500, logged).</summary>
    private static async Task Refusals(HttpContext context, RequestDelegate next, ILogger logger)
    {
        try
        {
            await next(context);
        }
        catch (ProtocolException e) when (!context.Response.HasStarted)
        {
            await ErrorResponse.WriteAsync(context, e.Status, e.Message);
        }
        catch (BadHttpRequestException e) when (!context.Response.HasStarted)
        {
            await ErrorResponse.WriteAsync(context, e.StatusCode, e.StatusCode == StatusCodes.Status413PayloadTooLarge
                ? "The request body is larger than the server's limit (--max-request-mb)."
                : $"Bad request: {e.Message}");
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away; nobody is left to answer.
        }
#pragma warning disable CA1031 // A failure inside one request must not take the server down; it is logged and answered 500.
        catch (Exception e) when (!context.Response.HasStarted)
#pragma warning restore CA1031
        {
            logger.LogError(e, "{Method} {Path} failed", context.Request.Method, context.Request.Path);
            await ErrorResponse.WriteAsync(context, StatusCodes.Status500InternalServerError, $"The server failed on this request: {e.Message}");
        }
    }
}
