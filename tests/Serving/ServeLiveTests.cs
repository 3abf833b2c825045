using System.Net;
using DogsVsCats.Vision.Benchmarks;
using DogsVsCats.Vision.Realtime.Live;
using DogsVsCats.Vision.Tests.Fixtures;
using DogsVsCats.Vision.Trainer.Run;

namespace DogsVsCats.Vision.Tests.Serving;

/// <summary>
/// serve --source (issue 19, point 5): the live loop is one view of the server, not the server. Its source ending ends
/// the view and says so on the event stream, while the API goes on; a model still loading holds up neither the start
/// nor the health endpoints, and the loop begins once the model is there.
/// </summary>
[Trait("Category", "Slow")]
[Collection(SmallRunGroup.Name)]
public sealed class ServeLiveTests(SmallRunFixture run)
{
    private const string Infer = "/v2/models/dogsvscats/infer";
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(90);

    private string ModelPath => Path.Combine(run.RunDirectory, TrainingRun.ModelFile);

    private static string CatVideo => Path.GetFullPath(Path.Combine(TestData.DogsVsCatsRoot, "..", "video", "cat.mp4"));

    [Fact]
    public async Task SourceEnds_EventStreamSaysEnded_ServerGoesOnAnswering()
    {
        // Played once, as a file (every frame, no looping): the loop ends with the video, a few seconds in.
        var live = new LiveOptions { Source = CatVideo, Loop = false, NoWindow = true };
        await using var server = await RunningServer.StartAsync(ModelPath, live: live);

        var events = await ReadEventsUntilEndAsync(server.Client);
        Assert.Contains(events, e => e.StartsWith("data: {", StringComparison.Ordinal) && e.Contains("\"label\"", StringComparison.Ordinal));
        Assert.Equal("event: end\ndata: {\"ended\":true}", events[^1]);

        // The server outlives its live view: ready, answering, and a new reader of the ended stream is told at once.
        Assert.Equal(HttpStatusCode.OK, (await server.Client.GetAsync("/v2/health/ready")).StatusCode);
        using var answer = await server.Client.PostAsync(Infer, TritonWire.Binary("BYTES", [1], TritonWire.SerializeBytes([File.ReadAllBytes(TestData.RealPhotos("cat", 1)[0])])));
        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        Assert.Equal("event: end\ndata: {\"ended\":true}", (await ReadEventsUntilEndAsync(server.Client))[^1]);
    }

    [Fact]
    public async Task ModelStillLoading_StartsAndAnswersLiveness_LoopBeginsOnceTheModelIsThere()
    {
        // The model file is a named pipe that blocks whoever opens it for reading until this test writes the model
        // into it: once for the served model, once more for the live loop's own session, which loads after it.
        using var temp = new TempDirectory();
        var pipe = await ModelPipe.CreateAsync(temp.Path);

        var live = new LiveOptions { Source = CatVideo, Loop = true, RealtimePacing = true, NoWindow = true };
        var writes = 0;
        // A start that waited for the model would never return here: the pipe has no writer yet.
        var server = await RunningServer.StartAsync(pipe, o => o.DrainSeconds = 5, waitReady: false, live: live).WaitAsync(Deadline);
        try
        {
            Assert.Equal(HttpStatusCode.OK, (await server.Client.GetAsync("/v2/health/live")).StatusCode);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, (await server.Client.GetAsync("/v2/health/ready")).StatusCode);

            await ModelPipe.WriteAsync(pipe, ModelPath).WaitAsync(Deadline);
            writes++;
            await server.WaitReadyAsync();
            await ModelPipe.WriteAsync(pipe, ModelPath).WaitAsync(Deadline);
            writes++;

            using var cancel = new CancellationTokenSource(Deadline);
            using var stream = await server.Client.GetStreamAsync("/v1/live/events", cancel.Token);
            using var reader = new StreamReader(stream);
            string? line;
            while ((line = await reader.ReadLineAsync(cancel.Token)) is not null && !line.StartsWith("data: {\"", StringComparison.Ordinal))
            {
            }

            Assert.NotNull(line);
            Assert.Contains("\"label\"", line, StringComparison.Ordinal);
        }
        finally
        {
            // Frees any loader still waiting on the pipe, which would otherwise wait forever; bounded, in case none does.
            for (; writes < 2; writes++)
            {
                using var unblock = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                try
                {
                    await ModelPipe.WriteAsync(pipe, ModelPath).WaitAsync(unblock.Token);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }

            await server.DisposeAsync();
        }
    }

    /// <summary>Reads /v1/live/events to its end (the server closes it after the end event), one string an event.</summary>
    private static async Task<List<string>> ReadEventsUntilEndAsync(HttpClient client)
    {
        using var cancel = new CancellationTokenSource(Deadline);
        var text = await client.GetStringAsync("/v1/live/events", cancel.Token);
        return [.. text.Split("\n\n", StringSplitOptions.RemoveEmptyEntries)];
    }
}
