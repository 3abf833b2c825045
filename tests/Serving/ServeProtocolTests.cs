using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Nodes;
using DogsVsCats.Vision.Benchmarks;
using DogsVsCats.Vision.Realtime.Inference;
using DogsVsCats.Vision.Shared;
using DogsVsCats.Vision.Tests.Fixtures;
using DogsVsCats.Vision.Trainer.Run;
using Microsoft.Extensions.Logging.Abstractions;
using OpenCvSharp;

namespace DogsVsCats.Vision.Tests.Serving;

/// <summary>One server for the protocol tests, started on first use with the small training run's model.</summary>
public sealed class ServerFixture : IAsyncDisposable
{
    private readonly SemaphoreSlim gate = new(1, 1);
    private RunningServer? server;
    private Classifier? reference;

    /// <summary>The server, and folder labelling's classifier on the same model: the probabilities the server must give.</summary>
    internal async Task<(RunningServer Server, Classifier Reference)> StartAsync(string model)
    {
        await gate.WaitAsync();
        try
        {
            server ??= await RunningServer.StartAsync(model);
            reference ??= new Classifier(model, InferenceDevice.Cpu, 0, NullLogger.Instance);
            return (server, reference);
        }
        finally
        {
            gate.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (server is not null)
        {
            await server.DisposeAsync();
        }

        reference?.Dispose();
        gate.Dispose();
    }
}

/// <summary>
/// The Open Inference Protocol as real clients speak it, on real photos: JSON and binary requests (the binary one
/// byte for byte as tritonclient.http sends a numpy array), UINT8 tensors and encoded photos as BYTES, batches of 1
/// and 8; the probabilities must equal folder labelling's for the same photos.
/// </summary>
[Trait("Category", "Slow")]
[Collection(SmallRunGroup.Name)]
public sealed class ServeProtocolTests(SmallRunFixture run, ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private const float Tolerance = 1e-4f;

    private string ModelPath => Path.Combine(run.RunDirectory, TrainingRun.ModelFile);

    [Fact]
    public async Task Metadata_DescribesServerAndModel_HealthAnswers()
    {
        var (server, reference) = await fixture.StartAsync(ModelPath);
        var client = server.Client;
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/v2/health/live")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/v2/health/ready")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/v2/models/dogsvscats/ready")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/v2/models/dogsvscats/versions/1/ready")).StatusCode);

        var serverMetadata = JsonNode.Parse(await client.GetStringAsync("/v2"))!;
        Assert.Equal(["binary_tensor_data", "classification"], serverMetadata["extensions"]!.AsArray().Select(e => e!.GetValue<string>()));

        foreach (var path in new[] { "/v2/models/dogsvscats", "/v2/models/dogsvscats/versions/1" })
        {
            var model = JsonNode.Parse(await client.GetStringAsync(path))!;
            Assert.Equal("dogsvscats", model["name"]!.GetValue<string>());
            var input = model["inputs"]!.AsArray().Single()!;
            Assert.Equal("image", input["name"]!.GetValue<string>());
            Assert.Equal("UINT8", input["datatype"]!.GetValue<string>());
            Assert.Equal([-1, reference.Description.InputHeight, reference.Description.InputWidth, 3], Shape(input));
            var outputs = model["outputs"]!.AsArray().ToDictionary(o => o!["name"]!.GetValue<string>(), o => o!);
            Assert.Equal([-1, reference.Labels.Count], Shape(outputs["probabilities"]));
            Assert.Equal("BYTES", outputs["label"]["datatype"]!.GetValue<string>());
            Assert.Equal([-1, reference.Labels.Count, reference.CamHeight, reference.CamWidth], Shape(outputs["cam"]));
        }
    }

    [Fact]
    public async Task Infer_JsonUint8Batch1_MatchesFolderLabelling()
    {
        var (server, reference) = await fixture.StartAsync(ModelPath);
        var photo = TestData.RealPhotos("cat", 1)[0];
        var (pixels, expected) = Tensor(reference, [photo]);
        var request = new JsonObject
        {
            ["id"] = "json-1",
            ["inputs"] = new JsonArray(new JsonObject
            {
                ["name"] = "image",
                ["datatype"] = "UINT8",
                ["shape"] = new JsonArray(1, reference.Description.InputHeight, reference.Description.InputWidth, 3),
                ["data"] = new JsonArray(pixels.Select(b => (JsonNode)(int)b).ToArray()),
            }),
        };

        using var response = await server.Client.PostAsync("/v2/models/dogsvscats/infer", TritonWire.Json(request));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var result = await TritonWire.ReadAsync(response);
        Assert.Equal("json-1", result.Header["id"]!.GetValue<string>());
        Assert.Equal("dogsvscats", result.Header["model_name"]!.GetValue<string>());
        Assert.False(result.Outputs["probabilities"].WasBinary);
        AssertProbabilities(expected, result.Outputs["probabilities"]);
        Assert.Equal([expected[0].LabelAt(0.6)], result.Outputs["label"].Strings!);

        // Server-Timing: the request's wait in the queue and its batch's run, which bench serve takes from the latency.
        Assert.Matches(@"^queue;dur=\d+\.\d{3}, infer;dur=\d+\.\d{3}$", string.Join(',', response.Headers.GetValues("Server-Timing")));
        Assert.InRange(ServeBenchmark.ServerInferMs(response), 0.001, 60_000);
    }

    [Fact]
    public async Task Infer_BinaryUint8Batch8_AsTritonclientSendsIt_MatchesFolderLabelling()
    {
        var (server, reference) = await fixture.StartAsync(ModelPath);
        var photos = Photos(8);
        var (pixels, expected) = Tensor(reference, photos);
        var shape = new[] { 8, reference.Description.InputHeight, reference.Description.InputWidth, 3 };

        using var response = await server.Client.PostAsync("/v2/models/dogsvscats/versions/1/infer", TritonWire.Binary("UINT8", shape, pixels, id: "binary-8"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var result = await TritonWire.ReadAsync(response);
        Assert.Equal("binary-8", result.Header["id"]!.GetValue<string>());
        Assert.True(result.Outputs["probabilities"].WasBinary);
        Assert.True(result.Outputs["label"].WasBinary);
        Assert.Equal([8, reference.Labels.Count], result.Outputs["probabilities"].Shape);
        AssertProbabilities(expected, result.Outputs["probabilities"]);
        Assert.Equal(expected.Select(p => p.LabelAt(0.6)), result.Outputs["label"].Strings!);
    }

    [Fact]
    public async Task Infer_EncodedPhotosAsBytes_Base64JsonBatch1AndBinaryBatch8_MatchFolderLabelling()
    {
        var (server, reference) = await fixture.StartAsync(ModelPath);
        var photos = Photos(8);
        var expected = FolderLabelling(reference, photos);

        var json = new JsonObject
        {
            ["inputs"] = new JsonArray(new JsonObject
            {
                ["name"] = "image",
                ["datatype"] = "BYTES",
                ["shape"] = new JsonArray(1),
                ["data"] = new JsonArray(Convert.ToBase64String(File.ReadAllBytes(photos[0]))),
            }),
        };
        using (var response = await server.Client.PostAsync("/v2/models/dogsvscats/infer", TritonWire.Json(json)))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            AssertProbabilities(expected[..1], (await TritonWire.ReadAsync(response)).Outputs["probabilities"]);
        }

        var raw = TritonWire.SerializeBytes(photos.Select(File.ReadAllBytes));
        using (var response = await server.Client.PostAsync("/v2/models/dogsvscats/infer", TritonWire.Binary("BYTES", [8], raw)))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            AssertProbabilities(expected, (await TritonWire.ReadAsync(response)).Outputs["probabilities"]);
        }
    }

    [Fact]
    public async Task Infer_RequestedOutputs_ClassificationCamAndJsonOrBinaryEach()
    {
        var (server, reference) = await fixture.StartAsync(ModelPath);
        var photos = Photos(2);
        var (pixels, expected) = Tensor(reference, photos);
        var shape = new[] { 2, reference.Description.InputHeight, reference.Description.InputWidth, 3 };

        using var response = await server.Client.PostAsync(
            "/v2/models/dogsvscats/infer",
            TritonWire.Binary("UINT8", shape, pixels, outputs: [("probabilities", false, 2), ("cam", true, 0)]));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var result = await TritonWire.ReadAsync(response);
        Assert.Equal(["probabilities", "cam"], result.Outputs.Keys);

        // Classification: "score:index:label", best first, as Triton writes it.
        var classes = result.Outputs["probabilities"];
        Assert.False(classes.WasBinary);
        Assert.Equal([2, 2], classes.Shape);
        for (var i = 0; i < 2; i++)
        {
            var top = expected[i].TopIndex;
            var parts = classes.Strings![i * 2].Split(':');
            Assert.Equal(top.ToString(System.Globalization.CultureInfo.InvariantCulture), parts[1]);
            Assert.Equal(reference.Labels[top], parts[2]);
            // Within 1e-5 of the reference, the bound that rounding both to 5 places meant; rounding itself failed a
            // difference of 5e-7 that straddled a rounding boundary (the server runs the 2 images as a batch of 2).
            var score = float.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture);
            Assert.True(Math.Abs(expected[i].Probabilities[top] - score) < 1e-5, $"score {score} against {expected[i].Probabilities[top]}");
        }

        var cam = result.Outputs["cam"];
        Assert.True(cam.WasBinary);
        Assert.Equal([2, reference.Labels.Count, reference.CamHeight, reference.CamWidth], cam.Shape);
        var mats = photos.Select(Read).ToArray();
        try
        {
            Assert.Equal(2, reference.Classify(mats).Count);
            var size = reference.CamHeight * reference.CamWidth;
            for (var i = 0; i < 2; i++)
            {
                var map = reference.Cam(i, 1, out _, out _).ToArray();
                var served = cam.Floats!.AsSpan(((i * 2) + 1) * size, size).ToArray();
                Assert.Equal(map, served, (a, b) => Math.Abs(a - b) <= 1e-3f * Math.Max(1, Math.Abs(a)));
            }
        }
        finally
        {
            Array.ForEach(mats, m => m.Dispose());
        }
    }

    [Fact]
    public async Task Classify_RawBodyAndMultipart_SameFieldsAsAJsonlLine_CamIsAPng()
    {
        var (server, reference) = await fixture.StartAsync(ModelPath);
        var photos = Photos(2);
        var expected = FolderLabelling(reference, photos);

        using (var body = new ByteArrayContent(File.ReadAllBytes(photos[0])))
        {
            body.Headers.ContentType = new MediaTypeHeaderValue("image/jpeg");
            using var response = await server.Client.PostAsync("/v1/classify", body);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var line = JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject();
            var jsonl = JsonNode.Parse(PredictionLine.Of(expected[0].LabelAt(0.6), expected[0]).ToJson())!.AsObject();
            // The same fields as folder labelling's --jsonl line (timings differ in value, not in kind).
            Assert.Equal(jsonl.Select(p => p.Key).Order(), line.Select(p => p.Key).Order());
            Assert.Equal(jsonl["label"]!.GetValue<string>(), line["label"]!.GetValue<string>());
            Assert.Equal(jsonl["probabilities"]!["cat"]!.GetValue<float>(), line["probabilities"]!["cat"]!.GetValue<float>(), 4);
            Assert.Equal(jsonl["width"]!.GetValue<int>(), line["width"]!.GetValue<int>());
            Assert.InRange(ServeBenchmark.ServerInferMs(response), 0.001, 60_000);
        }

        using var form = new MultipartFormDataContent();
        foreach (var photo in photos)
        {
            form.Add(new ByteArrayContent(File.ReadAllBytes(photo)), "file", Path.GetFileName(photo));
        }

        using var multipart = await server.Client.PostAsync("/v1/classify?cam=true", form);
        Assert.Equal(HttpStatusCode.OK, multipart.StatusCode);
        var lines = JsonNode.Parse(await multipart.Content.ReadAsStringAsync())!.AsArray();
        Assert.Equal(photos.Select(Path.GetFileName), lines.Select(l => l!["path"]!.GetValue<string>()));
        for (var i = 0; i < photos.Count; i++)
        {
            Assert.Equal(expected[i].LabelAt(0.6), lines[i]!["label"]!.GetValue<string>());
            using var png = Cv2.ImDecode(Convert.FromBase64String(lines[i]!["cam_png"]!.GetValue<string>()), ImreadModes.Color);
            Assert.Equal((reference.Description.InputWidth, reference.Description.InputHeight), (png.Width, png.Height));
        }
    }

    [Fact]
    public async Task Infer_64ConcurrentRequests_EachGetsItsOwnPhotosResult()
    {
        var (server, reference) = await fixture.StartAsync(ModelPath);
        var photos = TestData.RealPhotos("cat", 32).Concat(TestData.RealPhotos("dog", 32)).ToList();
        var expected = FolderLabelling(reference, photos);
        var tasks = photos.Select(async (photo, i) =>
        {
            var raw = TritonWire.SerializeBytes([File.ReadAllBytes(photo)]);
            using var response = await server.Client.PostAsync("/v2/models/dogsvscats/infer", TritonWire.Binary("BYTES", [1], raw, id: $"r{i}"));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var result = await TritonWire.ReadAsync(response);
            Assert.Equal($"r{i}", result.Header["id"]!.GetValue<string>());
            AssertProbabilities([expected[i]], result.Outputs["probabilities"]);
        });
        await Task.WhenAll(tasks);

        // They were batched: fewer runs than images.
        var metrics = await server.Client.GetStringAsync("/metrics");
        Assert.True(Counter(metrics, "dogsvscats_execution_count_total") < Counter(metrics, "dogsvscats_inference_count_total"), metrics);
    }

    public static TheoryData<string, HttpStatusCode, string> Refusals => new()
    {
        { """{"inputs":[{"name":"image","datatype":"FP32","shape":[1,2,2,3],"data":[1]}]}""", HttpStatusCode.BadRequest, "datatype 'FP32'" },
        { """{"inputs":[{"name":"image","datatype":"UINT8","shape":[1,10,10,3],"data":[1]}]}""", HttpStatusCode.BadRequest, "must have shape" },
        { """{"inputs":[{"name":"image","datatype":"UINT8","shape":[1,SIZE,SIZE,3],"data":[1,2,3]}]}""", HttpStatusCode.BadRequest, "has 3 values" },
        { """{"inputs":[{"name":"pixels","datatype":"UINT8","shape":[1],"data":[1]}]}""", HttpStatusCode.BadRequest, "Unknown input 'pixels'" },
        { """{"inputs":[{"name":"image","datatype":"BYTES","shape":[1],"data":["aGVsbG8="]}]}""", HttpStatusCode.BadRequest, "element 0: not an image" },
        { """{"inputs":[{"name":"image","datatype":"BYTES","shape":[2],"data":["aGVsbG8="]}]}""", HttpStatusCode.BadRequest, "holds 1 elements" },
        { """{"inputs":[{"name":"image","datatype":"BYTES","shape":[1],"data":["aGVsbG8="]}],"outputs":[{"name":"logits"}]}""", HttpStatusCode.BadRequest, "Unknown output 'logits'" },
        { """{"inputs":[]}""", HttpStatusCode.BadRequest, "needs 'inputs'" },
        { "not json", HttpStatusCode.BadRequest, "not valid JSON" },
    };

    [Theory]
    [MemberData(nameof(Refusals))]
    public async Task Infer_BadRequest_AnswersTheErrorObjectSayingWhatToFix(string body, HttpStatusCode status, string says)
    {
        var (server, reference) = await fixture.StartAsync(ModelPath);
        body = body.Replace("SIZE", reference.Description.InputWidth.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
        using var response = await server.Client.PostAsync("/v2/models/dogsvscats/infer", new StringContent(body));
        Assert.Equal(status, response.StatusCode);
        var error = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!.GetValue<string>();
        Assert.Contains(says, error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/v2/models/cats/infer", "Unknown model 'cats'")]
    [InlineData("/v2/models/dogsvscats/versions/2/infer", "no version '2'")]
    public async Task Infer_UnknownModelOrVersion_404(string path, string says)
    {
        var (server, _) = await fixture.StartAsync(ModelPath);
        using var response = await server.Client.PostAsync(path, new StringContent("{}"));
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Contains(says, await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Metrics_NameEveryFigureTheReadmeLists()
    {
        var (server, _) = await fixture.StartAsync(ModelPath);
        using (await server.Client.PostAsync("/v2/models/dogsvscats/infer", new StringContent("{}")))
        {
        }

        var metrics = await server.Client.GetStringAsync("/metrics");
        foreach (var name in new[]
        {
            "dogsvscats_http_requests_total", "dogsvscats_http_request_duration_seconds", "dogsvscats_inference_duration_seconds",
            "dogsvscats_queue_wait_seconds", "dogsvscats_batch_size", "dogsvscats_queue_depth", "dogsvscats_inference_count_total",
            "dogsvscats_execution_count_total", "dogsvscats_model_ready",
        })
        {
            Assert.Contains($"# TYPE {name} ", metrics, StringComparison.Ordinal);
        }

        Assert.Contains("dogsvscats_http_requests_total{endpoint=\"/v2/models/{name}/infer\",status=\"400\"}", metrics, StringComparison.Ordinal);
        Assert.Equal(1, Counter(metrics, "dogsvscats_model_ready"));
    }

    private static int[] Shape(JsonNode tensor) => tensor["shape"]!.AsArray().Select(d => d!.GetValue<int>()).ToArray();

    private static double Counter(string metrics, string name) =>
        double.Parse(metrics.Split('\n').Single(l => l.StartsWith(name + " ", StringComparison.Ordinal)).Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);

    private static List<string> Photos(int count) => [.. TestData.RealPhotos("cat", count / 2), .. TestData.RealPhotos("dog", count - (count / 2))];

    private static Mat Read(string path) => ImageFile.TryRead(path, out var bgr, out var error) ? bgr : throw new InvalidOperationException(error);

    /// <summary>What folder labelling gives for these photos: read by ImageFile, classified by the realtime Classifier.</summary>
    private static Prediction[] FolderLabelling(Classifier reference, IReadOnlyList<string> photos)
    {
        var mats = photos.Select(Read).ToArray();
        try
        {
            return [.. reference.Classify(mats)];
        }
        finally
        {
            Array.ForEach(mats, m => m.Dispose());
        }
    }

    /// <summary>The photos resized by the shared rule as a client would send them (uint8 NHWC BGR), and folder labelling's result.</summary>
    private static (byte[] Pixels, Prediction[] Expected) Tensor(Classifier reference, List<string> photos)
    {
        var (width, height) = (reference.Description.InputWidth, reference.Description.InputHeight);
        var pixels = new byte[photos.Count * width * height * 3];
        for (var i = 0; i < photos.Count; i++)
        {
            using var bgr = Read(photos[i]);
            using var resized = ImagePreprocessing.Resize(bgr, width, height);
            resized.AsSpan<byte>().CopyTo(pixels.AsSpan(i * width * height * 3));
        }

        return (pixels, FolderLabelling(reference, photos));
    }

    private static void AssertProbabilities(Prediction[] expected, TritonWire.Output output)
    {
        var classes = expected[0].Labels.Count;
        Assert.Equal([expected.Length, classes], output.Shape);
        for (var i = 0; i < expected.Length; i++)
        {
            Assert.Equal(expected[i].Probabilities, output.Floats!.AsSpan(i * classes, classes).ToArray(), (a, b) => Math.Abs(a - b) <= Tolerance);
        }
    }
}
