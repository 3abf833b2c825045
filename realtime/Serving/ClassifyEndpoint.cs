using System.Diagnostics;
using DogsVsCats.Vision.Realtime.Inference;
using DogsVsCats.Vision.Shared;
using Microsoft.AspNetCore.Http;
using OpenCvSharp;

namespace DogsVsCats.Vision.Realtime.Serving;

/// <summary>
/// POST /v1/classify: a photo as the body (one JSON object back) or several as multipart form files (an array, each
/// with its file name as "path"); the fields are those of a --jsonl line of folder labelling, from the same
/// <see cref="PredictionLine"/>. <c>?cam=true</c> adds the activation map of the label drawn over what the model saw,
/// as a base64 PNG.
/// </summary>
internal static class ClassifyEndpoint
{
    public static async Task HandleAsync(HttpContext context, ModelHost host, ServeOptions options, double minConfidence)
    {
        var batcher = ServeEndpoints.Ready(host);
        var classifier = host.Classifier!;
        var wantCam = context.Request.Query["cam"] is var cam && cam.Count > 0 && bool.TryParse(cam[0], out var on) && on;
        var start = Stopwatch.GetTimestamp();
        var arriving = batcher.Arriving();
        try
        {
            var (photos, names, body) = await ReadPhotosAsync(context.Request, options);
            using (body)
            {
                if (photos.Count == 0)
                {
                    throw new ProtocolException(StatusCodes.Status400BadRequest, "No photo: send one as the request body (curl --data-binary @cat.jpg) or several as multipart form files (curl -F file=@cat.jpg).");
                }

                if (photos.Count > options.MaxBatch)
                {
                    throw new ProtocolException(StatusCodes.Status400BadRequest, $"{photos.Count} photos in one request; send at most {options.MaxBatch} (--max-batch).");
                }

                using var pixels = PixelBatch.FromPhotos(photos, classifier.Description, i => names is null ? "the body" : $"file '{names[i]}'");
                var preprocessMs = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                var result = await ServeEndpoints.RunAsync(batcher, pixels, wantCam, options.MaxQueue, arriving);
                ServeEndpoints.SetServerTiming(context.Response, result);
                var predictions = ServeEndpoints.Predictions(classifier, pixels, result, preprocessMs);
                var lines = predictions.Select((p, i) => PredictionLine.Of(p.LabelAt(minConfidence), p) with
                {
                    Path = names?[i],
                    CamPng = wantCam ? CamPng(classifier, pixels, result.Cam!, i, p.TopIndex) : null,
                }).ToArray();
                context.Response.ContentType = "application/json";
                await context.Response.WriteAsync(names is null ? lines[0].ToJson() : PredictionLine.ToJson(lines), context.RequestAborted);
            }
        }
        finally
        {
            arriving.Dispose();
        }
    }

    private static async Task<(List<ReadOnlyMemory<byte>> Photos, string[]? Names, IDisposable? Body)> ReadPhotosAsync(HttpRequest request, ServeOptions options)
    {
        // Only multipart counts as a form: curl --data-binary labels a photo application/x-www-form-urlencoded.
        if (request.ContentType?.StartsWith("multipart/form-data", StringComparison.OrdinalIgnoreCase) == true)
        {
            IFormCollection form;
            try
            {
                form = await request.ReadFormAsync(request.HttpContext.RequestAborted);
            }
            catch (InvalidDataException e)
            {
                throw new ProtocolException(StatusCodes.Status400BadRequest, $"The multipart form could not be read: {e.Message}");
            }

            var photos = new List<ReadOnlyMemory<byte>>();
            foreach (var file in form.Files)
            {
                using var stream = new MemoryStream((int)file.Length);
                await file.CopyToAsync(stream, request.HttpContext.RequestAborted);
                photos.Add(stream.ToArray());
            }

            return (photos, form.Files.Select(f => f.FileName).ToArray(), null);
        }

        var body = await RequestBody.ReadAsync(request, options.MaxRequestBytes, request.HttpContext.RequestAborted);
        return (body.Length == 0 ? [] : [body.Memory], null, body);
    }

    /// <summary>The map of class <paramref name="classIndex"/> over image <paramref name="index"/> as the model saw it, PNG in base64.</summary>
    private static string CamPng(Classifier classifier, PixelBatch pixels, float[] cam, int index, int classIndex)
    {
        var model = classifier.Description;
        var imageBytes = model.InputWidth * model.InputHeight * 3;
        var size = classifier.CamHeight * classifier.CamWidth;
        using var view = new Mat(model.InputHeight, model.InputWidth, MatType.CV_8UC3);
        pixels.Pixels.Span.Slice(index * imageBytes, imageBytes).CopyTo(view.AsSpan<byte>());
        using var overlay = new CamOverlay();
        overlay.Draw(view, cam.AsSpan(((index * classifier.Labels.Count) + classIndex) * size, size).ToArray(), classifier.CamHeight, classifier.CamWidth);
        Cv2.ImEncode(".png", view, out var png);
        return Convert.ToBase64String(png);
    }
}
