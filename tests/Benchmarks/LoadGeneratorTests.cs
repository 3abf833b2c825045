using DogsVsCats.Vision.Benchmarks;
using DogsVsCats.Vision.Tests.Fixtures;
using DogsVsCats.Vision.Tests.Serving;
using DogsVsCats.Vision.Trainer.Run;

namespace DogsVsCats.Vision.Tests.Benchmarks;

/// <summary>
/// bench serve's client against a real server (the tests' small model) whose queue holds one request and whose batch
/// is one image, so that most requests sent together are refused: a row past saturation ends after the accepted
/// requests it asks for, and the open loop sends what it was told to at its rate, neither more nor faster.
/// </summary>
[Trait("Category", "Slow")]
[Collection(SmallRunGroup.Name)]
public sealed class LoadGeneratorTests(SmallRunFixture run)
{
    private string ModelPath => Path.Combine(run.RunDirectory, TrainingRun.ModelFile);

    private static Uri InferUrl(RunningServer server) => new(server.Address, "/v2/models/dogsvscats/infer");

    private static IReadOnlyList<TritonWire.WireBody> Photos() =>
        [.. TestData.RealPhotos("cat", 2).Select(p => TritonWire.BinaryBody("BYTES", [1], TritonWire.SerializeBytes([File.ReadAllBytes(p)])))];

    [Fact]
    public async Task CountAccepted_PastSaturation_EndsAfterThatManyAccepted_RefusalsDoNotCount()
    {
        await using var server = await RunningServer.StartAsync(ModelPath, o => (o.MaxQueue, o.MaxBatch) = (1, 1));
        const int Wanted = 6;
        const int Concurrency = 8;

        var counted = await LoadGenerator.RunAsync(InferUrl(server), Photos(), Concurrency, Wanted, TimeSpan.FromSeconds(60), countAccepted: true);
        var plain = await LoadGenerator.RunAsync(InferUrl(server), Photos(), Concurrency, Wanted, TimeSpan.FromSeconds(60));

        Assert.Equal(0, counted.Failed);
        // Workers still waiting when the sixth was accepted finish their request: at most one more each.
        Assert.InRange(counted.Accepted.Count, Wanted, Wanted + Concurrency - 1);
        Assert.NotEmpty(counted.Rejected);
        // Counting every answer, the same load ends after six answers of any kind.
        Assert.Equal(Wanted, plain.Accepted.Count + plain.Rejected.Count + plain.Failed);
    }

    [Fact]
    public async Task Open_SendsTheCountAtItsRate_TheTimeLimitStopsIt()
    {
        await using var server = await RunningServer.StartAsync(ModelPath, o => o.MaxBatch = 4);
        const double Rate = 25;
        const int Requests = 20;

        var open = await LoadGenerator.RunOpenAsync(InferUrl(server), Photos(), Rate, Requests, TimeSpan.FromSeconds(60), maxInFlight: 8);

        Assert.Equal(0, open.Failed);
        Assert.Equal(Requests, open.Accepted.Count + open.Rejected.Count);
        // The last was due (20 - 1) / 25 s after the first: sent all at once, the row would take a fraction of that.
        Assert.True(open.Seconds >= (Requests - 1) / Rate, $"{Requests} requests at {Rate}/s took {open.Seconds:F2} s");

        var limited = await LoadGenerator.RunOpenAsync(InferUrl(server), Photos(), Rate, 1000, TimeSpan.FromSeconds(0.5), maxInFlight: 8);
        // The time limit stops the sends: about 0.5 s x 25/s, far from the 1,000 asked for.
        Assert.InRange(limited.Accepted.Count + limited.Rejected.Count + limited.Failed, 4, 15);
    }
}
