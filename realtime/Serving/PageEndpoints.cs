using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace DogsVsCats.Vision.Realtime.Serving;

/// <summary>
/// The browser page: its static files (wwwroot, plain HTML, JS and CSS, nothing fetched from elsewhere) at /, what it
/// needs to know about the model at /v1/info, and, with serve --source, the live loop as MJPEG at /v1/live.mjpeg and
/// its predictions as Server-Sent Events at /v1/live/events. Photos and camera frames go to POST /v1/classify.
/// </summary>
internal static class PageEndpoints
{
    private const string Boundary = "frame";

    // The page runs only its own files and talks only to this server.
    private const string ContentSecurityPolicy = "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

    /// <summary>Serves the page's files; before routing, so / is the page and not the API's 404.</summary>
    public static void UseFiles(IApplicationBuilder app)
    {
        app.UseDefaultFiles();
        app.UseStaticFiles(new StaticFileOptions
        {
            OnPrepareResponse = file =>
            {
                var headers = file.Context.Response.Headers;
                headers.ContentSecurityPolicy = ContentSecurityPolicy;
                headers.XContentTypeOptions = "nosniff";
                headers.CacheControl = "no-cache";
            },
        });
    }

    public static void Map(IEndpointRouteBuilder app, ModelHost host, ServeOptions options, LiveFeed? feed, double minConfidence)
    {
        app.MapGet("/v1/info", context =>
        {
            var classifier = host.Classifier ?? throw new ProtocolException(StatusCodes.Status503ServiceUnavailable, "The model is still loading; retry in a moment.");
            return ServeEndpoints.Json(context, new
            {
                model = options.ModelName,
                labels = classifier.Labels,
                input_width = classifier.Description.InputWidth,
                input_height = classifier.Description.InputHeight,
                min_confidence = minConfidence,
                // Whether, not what: a stream's url may hold credentials.
                live = feed is not null,
            });
        });
        var stopping = app.ServiceProvider.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping;
        app.MapGet("/v1/live.mjpeg", context => StreamAsync(context, Live(feed).Frames, $"multipart/x-mixed-replace; boundary={Boundary}", async (body, jpeg, cancel) =>
        {
            await body.WriteAsync(Encoding.ASCII.GetBytes($"--{Boundary}\r\nContent-Type: image/jpeg\r\nContent-Length: {jpeg.Length}\r\n\r\n"), cancel);
            await body.WriteAsync(jpeg, cancel);
            await body.WriteAsync("\r\n"u8.ToArray(), cancel);
        }, stopping));
        app.MapGet("/v1/live/events", context => StreamAsync(context, Live(feed).Predictions, "text/event-stream", (body, json, cancel) =>
            body.WriteAsync(Encoding.UTF8.GetBytes($"data: {json}\n\n"), cancel).AsTask(), stopping,
            ended: (body, cancel) => body.WriteAsync(Encoding.UTF8.GetBytes("event: end\ndata: {\"ended\":true}\n\n"), cancel).AsTask()));
    }

    private static LiveFeed Live(LiveFeed? feed) =>
        feed ?? throw new ProtocolException(StatusCodes.Status404NotFound, "No live source: start serve with --source (a camera index, video file or stream) to watch its live loop here.");

    /// <summary>
    /// Writes each newest value until the live loop ends (then <paramref name="ended"/>, if given), the client leaves or
    /// the server stops (a stream must not hold up the drain). A client slower than the loop skips values instead of
    /// queueing them.
    /// </summary>
    private static async Task StreamAsync<T>(HttpContext context, NewestValue<T> values, string contentType, Func<Stream, T, CancellationToken, Task> write, CancellationToken stopping, Func<Stream, CancellationToken, Task>? ended = null)
        where T : class
    {
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, stopping);
        context.Response.ContentType = contentType;
        context.Response.Headers.CacheControl = "no-store";
        try
        {
            await context.Response.StartAsync(cancel.Token);
            await foreach (var value in values.ReadAllAsync(cancel.Token))
            {
                await write(context.Response.Body, value, cancel.Token);
                await context.Response.Body.FlushAsync(cancel.Token);
            }

            if (ended is not null)
            {
                await ended(context.Response.Body, cancel.Token);
            }
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            // The client left or the server is stopping: the stream simply ends.
        }
    }
}
