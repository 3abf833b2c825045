using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Text.Encodings.Web;
using System.Text.Json;
using DogsVsCats.Vision.Realtime.Inference;
using DogsVsCats.Vision.Shared;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Prometheus;

namespace DogsVsCats.Vision.Realtime.Serving;

/// <summary>
/// The HTTP endpoints: the Open Inference Protocol's (KServe V2 REST: health, server and model metadata, infer), the
/// plain <c>/v1/classify</c> for people and scripts, and <c>/metrics</c>. Every refusal is {"error": ...} with the
/// status the protocol names (see <see cref="ProtocolException"/>).
/// </summary>
internal static class ServeEndpoints
{
    public const string ModelVersion = "1";

    public const string ServerTimingHeader = "Server-Timing";

    /// <summary>The protocol extensions this server implements (GET /v2 lists them).</summary>
    public static readonly IReadOnlyList<string> Extensions = ["binary_tensor_data", "classification"];

    public static void Map(IEndpointRouteBuilder app, ModelHost host, ServeOptions options, ServeMetrics metrics, double minConfidence)
    {
        app.MapGet("/v2/health/live", context => Task.CompletedTask);
        app.MapGet("/v2/health/ready", context =>
        {
            context.Response.StatusCode = host.Ready ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable;
            return Task.CompletedTask;
        });
        app.MapGet("/v2", context => Json(context, new
        {
            name = "dogsvscats-vision",
            version = typeof(ServeEndpoints).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0",
            extensions = Extensions,
        }));
        foreach (var prefix in new[] { "/v2/models/{name}", "/v2/models/{name}/versions/{version}" })
        {
            app.MapGet(prefix, context => Json(context, Metadata(Loaded(context, host, options), options.ModelName)));
            app.MapGet(prefix + "/ready", context =>
            {
                CheckModel(context, options);
                context.Response.StatusCode = host.Ready ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable;
                return Task.CompletedTask;
            });
            app.MapPost(prefix + "/infer", context => InferAsync(context, host, options, minConfidence));
        }

        app.MapPost("/v1/classify", context => ClassifyEndpoint.HandleAsync(context, host, options, minConfidence));
        app.MapGet("/metrics", async context =>
        {
            context.Response.ContentType = PrometheusConstants.ExporterContentTypeValue.ToString();
            await metrics.Registry.CollectAndExportAsTextAsync(context.Response.Body, context.RequestAborted);
        });
    }

    /// <summary>Queues a request's images for the batcher and waits for their results.</summary>
    public static async Task<JobResult> RunAsync(InferenceBatcher batcher, PixelBatch pixels, bool cam, int maxQueue, InferenceBatcher.ArrivalScope arrival)
    {
        var job = new InferenceJob(pixels.Pixels, pixels.Count, cam);
        if (!batcher.TryEnqueue(job, arrival))
        {
            throw new ProtocolException(StatusCodes.Status503ServiceUnavailable, $"The server is busy: {maxQueue} requests are already waiting (--max-queue), or it is shutting down. Retry in a moment.");
        }

        return await job.Completion;
    }

    /// <summary>The batcher when the model is ready; else a 503 (loading or draining) that the error handler answers with Retry-After.</summary>
    public static InferenceBatcher Ready(ModelHost host)
    {
        return host.Batcher ?? throw new ProtocolException(
            StatusCodes.Status503ServiceUnavailable,
            host.Draining ? "The server is shutting down; send the request to another replica." : "The model is still loading; retry in a moment (GET /v2/health/ready says when).");
    }

    public static Task Json<T>(HttpContext context, T value, int status = StatusCodes.Status200OK)
    {
        context.Response.StatusCode = status;
        return context.Response.WriteAsJsonAsync(value);
    }

    private static async Task InferAsync(HttpContext context, ModelHost host, ServeOptions options, double minConfidence)
    {
        CheckModel(context, options);
        var batcher = Ready(host);
        var classifier = host.Classifier!;
        var model = classifier.Description;
        var start = Stopwatch.GetTimestamp();
        var arriving = batcher.Arriving();
        try
        {
            using var body = await RequestBody.ReadAsync(context.Request, options.MaxRequestBytes, context.RequestAborted);
            using var request = InferRequest.Parse(body.Memory, context.Request.Headers[InferRequest.HeaderLength], model, options.MaxBatch);
            using var pixels = request switch
            {
                { Datatype: "BYTES" } => PixelBatch.FromPhotos(request.Photos(), model, i => $"input 'image' element {i}"),
                { Binary: { } binary } => PixelBatch.FromTensor(binary, request.Count, model),
                _ => PixelBatch.FromJson(request.Data, request.Count, model),
            };
            var preprocessMs = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            var wantCam = request.Outputs.Any(o => o.Name == InferRequest.CamOutput);
            var result = await RunAsync(batcher, pixels, wantCam, options.MaxQueue, arriving);
            SetServerTiming(context.Response, result);
            var predictions = Predictions(classifier, pixels, result, preprocessMs);
            await InferResponse.WriteAsync(context.Response, options.ModelName, request.Id, request.Outputs, predictions, minConfidence, result.Cam, classifier.CamHeight, classifier.CamWidth);
        }
        finally
        {
            arriving.Dispose();
        }
    }

    /// <summary>
    /// The W3C Server-Timing header: the request's wait in the batching queue and its batch's ONNX Runtime run, in
    /// milliseconds. A client's latency less <c>infer</c> is what HTTP, parsing and batching added (bench serve's
    /// concurrency-1 overhead); browsers show it in their developer tools.
    /// </summary>
    public static void SetServerTiming(HttpResponse response, JobResult result)
    {
        response.Headers[ServerTimingHeader] = string.Create(CultureInfo.InvariantCulture, $"queue;dur={result.QueueMs:F3}, infer;dur={result.InferenceMs:F3}");
    }

    public static Prediction[] Predictions(Classifier classifier, PixelBatch pixels, JobResult result, double preprocessMs)
    {
        var timings = new StageTimings(preprocessMs, result.InferenceMs, 0);
        return result.Probabilities.Select((p, i) => new Prediction(classifier.Labels, p, pixels.Sizes[i].Width, pixels.Sizes[i].Height, result.BatchSize, timings)).ToArray();
    }

    private static Classifier Loaded(HttpContext context, ModelHost host, ServeOptions options)
    {
        CheckModel(context, options);
        return host.Classifier ?? throw new ProtocolException(StatusCodes.Status503ServiceUnavailable, "The model is still loading; retry in a moment.");
    }

    /// <summary>404 for a model name or version this server does not serve.</summary>
    private static void CheckModel(HttpContext context, ServeOptions options)
    {
        var name = context.Request.RouteValues["name"] as string;
        if (name != options.ModelName)
        {
            throw new ProtocolException(StatusCodes.Status404NotFound, $"Unknown model '{name}'; this server serves '{options.ModelName}'.");
        }

        if (context.Request.RouteValues.TryGetValue("version", out var version) && version as string != ModelVersion)
        {
            throw new ProtocolException(StatusCodes.Status404NotFound, $"Model '{name}' has no version '{version}'; it has version '{ModelVersion}'.");
        }
    }

    private static object Metadata(Classifier classifier, string name)
    {
        var model = classifier.Description;
        var (camHeight, camWidth) = (classifier.CamHeight, classifier.CamWidth);
        var classes = classifier.Labels.Count;
        return new
        {
            name,
            versions = new[] { ModelVersion },
            platform = "onnxruntime_onnx",
            inputs = new[]
            {
                new { name = ModelContract.InputName, datatype = "UINT8", shape = new[] { -1, model.InputHeight, model.InputWidth, 3 } },
            },
            outputs = new[]
            {
                new { name = InferRequest.ProbabilitiesOutput, datatype = "FP32", shape = new[] { -1, classes } },
                new { name = InferRequest.LabelOutput, datatype = "BYTES", shape = new[] { -1 } },
                new { name = InferRequest.CamOutput, datatype = "FP32", shape = new[] { -1, classes, camHeight, camWidth } },
            },
            parameters = new
            {
                labels = classifier.Labels,
                channel_order = model.ChannelOrder,
                resize_rule = model.ResizeRule,
                interpolation = model.Interpolation,
                encoded_input = "The input 'image' also takes BYTES [N]: encoded JPEG, PNG, WebP or BMP photos, resized by the server.",
            },
        };
    }

}

/// <summary>Writes a refusal as the protocol's error object.</summary>
internal static class ErrorResponse
{
    // Quotes and '+' stay readable; the body is JSON, never HTML.
    private static readonly JsonSerializerOptions Relaxed = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static Task WriteAsync(HttpContext context, int status, string message)
    {
        context.Response.StatusCode = status;
        if (status == StatusCodes.Status503ServiceUnavailable)
        {
            context.Response.Headers.RetryAfter = "1";
        }

        context.Response.ContentType = "application/json";
        return context.Response.WriteAsync(JsonSerializer.Serialize(new { error = message }, Relaxed), context.RequestAborted);
    }
}
