using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using DogsVsCats.Vision.Benchmarks;
using DogsVsCats.Vision.Tests.Fixtures;
using DogsVsCats.Vision.Trainer.Run;

namespace DogsVsCats.Vision.Tests.Serving;

/// <summary>
/// 503 with Retry-After (issue 19, point 1): when the bounded queue is full, and while the model is still loading
/// (liveness answers from the first moment, readiness and inference only once the model is there).
/// </summary>
[Trait("Category", "Slow")]
[Collection(SmallRunGroup.Name)]
public sealed class ServeBusyTests(SmallRunFixture run)
{
    private const string Infer = "/v2/models/dogsvscats/infer";

    private string ModelPath => Path.Combine(run.RunDirectory, TrainingRun.ModelFile);

    [Fact]
    public async Task QueueFull_ExtraRequests503WithRetryAfterAtOnce_OthersAnswered200()
    {
        await using var server = await RunningServer.StartAsync(ModelPath, o => (o.MaxQueue, o.MaxBatch) = (1, 1));
        var photo = TritonWire.SerializeBytes([File.ReadAllBytes(TestData.RealPhotos("dog", 1)[0])]);
        var answers = new List<(HttpStatusCode Status, TimeSpan Took, string? RetryAfter, string Body)>();
        var deadline = Stopwatch.StartNew();
        // One inference at a time and one request waiting: of 48 sent together, most find the queue full. Waves
        // until one has refused some, in case a slow client side sent a wave too thinly to fill it.
        while (!answers.Any(a => a.Status == HttpStatusCode.ServiceUnavailable) && deadline.Elapsed < TimeSpan.FromSeconds(60))
        {
            answers.AddRange(await Task.WhenAll(Enumerable.Range(0, 48).Select(async _ =>
            {
                var clock = Stopwatch.StartNew();
                using var response = await server.Client.PostAsync(Infer, TritonWire.Binary("BYTES", [1], photo));
                var body = await response.Content.ReadAsStringAsync();
                return (response.StatusCode, clock.Elapsed, response.Headers.RetryAfter?.ToString(), body);
            })));
        }

        var refused = answers.Where(a => a.Status == HttpStatusCode.ServiceUnavailable).ToList();
        var answered = answers.Count(a => a.Status == HttpStatusCode.OK);
        Assert.NotEmpty(refused);
        Assert.True(answered > 0, "no request was answered 200");
        Assert.Equal(answers.Count, refused.Count + answered);
        Assert.All(refused, a =>
        {
            Assert.Equal("1", a.RetryAfter);
            Assert.Contains("--max-queue", JsonNode.Parse(a.Body)!["error"]!.GetValue<string>(), StringComparison.Ordinal);
        });
        // Refused without running: the model ran exactly the images of the answered requests.
        var metrics = await server.Client.GetStringAsync("/metrics");
        Assert.Equal(answered, Counter(metrics, "dogsvscats_inference_count_total"));
        Assert.True(refused.Max(a => a.Took) < TimeSpan.FromSeconds(5), $"a refusal took {refused.Max(a => a.Took)}");
    }

    [Fact]
    public async Task ModelStillLoading_LiveAtOnce_ReadyAndInfer503WithRetryAfter_ThenServes()
    {
        // The model file is a named pipe the server's loader blocks on until this test writes the model into it: the
        // server is up, the model not yet loaded, for as long as the test looks (a model on a slow disk, made exact).
        using var temp = new TempDirectory();
        var pipe = await ModelPipe.CreateAsync(temp.Path);

        var written = false;
        var server = await RunningServer.StartAsync(pipe, o => o.DrainSeconds = 5, waitReady: false);
        try
        {
            var client = server.Client;
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/v2/health/live")).StatusCode);
            foreach (var path in new[] { "/v2/health/ready", "/v2/models/dogsvscats/ready", "/v2/models/dogsvscats" })
            {
                using var response = await client.GetAsync(path);
                Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            }

            var photo = File.ReadAllBytes(TestData.RealPhotos("cat", 1)[0]);
            foreach (var request in new[] { Infer, "/v1/classify" })
            {
                using var content = request == Infer ? TritonWire.Binary("BYTES", [1], TritonWire.SerializeBytes([photo])) : new ByteArrayContent(photo);
                using var response = await client.PostAsync(request, content);
                Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
                Assert.Equal(new RetryConditionHeaderValue(TimeSpan.FromSeconds(1)), response.Headers.RetryAfter);
                Assert.Contains("still loading", JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!.GetValue<string>(), StringComparison.Ordinal);
            }

            await ModelPipe.WriteAsync(pipe, ModelPath);
            written = true;
            await server.WaitReadyAsync();
            using var ready = await client.PostAsync(Infer, TritonWire.Binary("BYTES", [1], TritonWire.SerializeBytes([photo])));
            Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        }
        finally
        {
            if (!written)
            {
                // Frees the loader's thread, which would otherwise wait on the pipe forever.
                await ModelPipe.WriteAsync(pipe, ModelPath);
            }

            await server.DisposeAsync();
        }
    }

    private static double Counter(string metrics, string name) =>
        double.Parse(metrics.Split('\n').Single(l => l.StartsWith(name + " ", StringComparison.Ordinal)).Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
}
