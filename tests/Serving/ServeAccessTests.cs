using System.Net;
using DogsVsCats.Vision.Benchmarks;
using DogsVsCats.Vision.Tests.Fixtures;
using DogsVsCats.Vision.Trainer.Run;

namespace DogsVsCats.Vision.Tests.Serving;

/// <summary>
/// Who may call the server (issue 19, points 4 and 9): --api-key guards the API but not the health probes, and
/// --cors-origins lets only the named origins' pages call it from a browser (none by default).
/// </summary>
[Trait("Category", "Slow")]
[Collection(SmallRunGroup.Name)]
public sealed class ServeAccessTests(SmallRunFixture run)
{
    private const string Key = "b6f1c0e2a9d84f37";
    private const string Infer = "/v2/models/dogsvscats/infer";
    private const string Origin = "http://example.test";

    private string ModelPath => Path.Combine(run.RunDirectory, TrainingRun.ModelFile);

    /// <summary>Every guarded request; routing ignores case, so a path in other letters names the same endpoint.</summary>
    private static readonly (HttpMethod Method, string Path)[] Guarded =
    [
        (HttpMethod.Get, "/v2"), (HttpMethod.Get, "/v2/models/dogsvscats"), (HttpMethod.Get, "/v2/models/dogsvscats/ready"),
        (HttpMethod.Get, "/v2/models/dogsvscats/versions/1"), (HttpMethod.Post, Infer), (HttpMethod.Post, "/v1/classify"),
        (HttpMethod.Get, "/metrics"), (HttpMethod.Get, "/V2/Models/dogsvscats"), (HttpMethod.Post, "/V1/classify"), (HttpMethod.Get, "/METRICS"),
    ];

    [Fact]
    public async Task ApiKey_HealthOpen_EverythingElse401WithoutTheRightKey_200WithIt()
    {
        await using var server = await RunningServer.StartAsync(ModelPath, o => (o.ApiKey, o.MaxBatch) = (Key, 4));
        foreach (var path in new[] { "/v2/health/live", "/v2/health/ready" })
        {
            using var response = await server.Client.GetAsync(path);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        // None, another key of the same length, a shorter and a longer one, the key itself in the wrong scheme.
        string?[] wrong = [null, "Bearer " + Key.ToUpperInvariant(), "Bearer " + Key[..^1], "Bearer " + Key + "0", "Basic " + Key];
        foreach (var (method, path) in Guarded)
        {
            foreach (var authorization in wrong)
            {
                using var response = await server.Client.SendAsync(Request(method, path, authorization));
                Assert.True(response.StatusCode == HttpStatusCode.Unauthorized, $"{method} {path} with '{authorization}': {response.StatusCode}");
                Assert.Equal("Bearer", response.Headers.WwwAuthenticate.Single().Scheme);
            }

            using (var response = await server.Client.SendAsync(Request(method, path, "Bearer " + Key)))
            {
                Assert.True(response.StatusCode == HttpStatusCode.OK, $"{method} {path} with the key: {response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            }
        }

        // Other spellings of a guarded path never reach it without the key.
        foreach (var path in new[] { "/v2//models/dogsvscats", "/v2/models/dogsvscats/", "/v2/%6Dodels/dogsvscats", "/v2/health/../models/dogsvscats" })
        {
            using var response = await server.Client.GetAsync(path);
            Assert.True(response.StatusCode != HttpStatusCode.OK, $"GET {path} without a key: {response.StatusCode}");
        }
    }

    [Fact]
    public async Task Cors_OffByDefault_NoOriginIsAllowed()
    {
        await using var server = await RunningServer.StartAsync(ModelPath, o => o.MaxBatch = 4);
        foreach (var origin in new[] { Origin, "http://localhost:3000", "null" })
        {
            using var preflight = await server.Client.SendAsync(Preflight(origin));
            Assert.False(preflight.Headers.Contains("Access-Control-Allow-Origin"), $"preflight from {origin} allowed");
            using var actual = await server.Client.SendAsync(WithOrigin(Request(HttpMethod.Post, Infer, null), origin));
            Assert.Equal(HttpStatusCode.OK, actual.StatusCode);
            Assert.False(actual.Headers.Contains("Access-Control-Allow-Origin"), $"response to {origin} allowed");
        }
    }

    [Fact]
    public async Task Cors_NamedOrigin_PreflightAllowedAndHeaderLengthExposed_OtherOriginsNot()
    {
        await using var server = await RunningServer.StartAsync(ModelPath, o => (o.CorsOrigins, o.MaxBatch) = (Origin, 4));

        using (var preflight = await server.Client.SendAsync(Preflight(Origin)))
        {
            Assert.True(preflight.IsSuccessStatusCode, preflight.StatusCode.ToString());
            Assert.Equal(Origin, preflight.Headers.GetValues("Access-Control-Allow-Origin").Single());
            Assert.Contains("POST", string.Join(',', preflight.Headers.GetValues("Access-Control-Allow-Methods")), StringComparison.Ordinal);
            Assert.Contains(TritonWire.HeaderLength, string.Join(',', preflight.Headers.GetValues("Access-Control-Allow-Headers")), StringComparison.OrdinalIgnoreCase);
        }

        using (var actual = await server.Client.SendAsync(WithOrigin(Request(HttpMethod.Post, Infer, null), Origin)))
        {
            Assert.Equal(HttpStatusCode.OK, actual.StatusCode);
            Assert.Equal(Origin, actual.Headers.GetValues("Access-Control-Allow-Origin").Single());
            var exposed = string.Join(',', actual.Headers.GetValues("Access-Control-Expose-Headers"));
            Assert.Contains(TritonWire.HeaderLength, exposed, StringComparison.Ordinal);
            Assert.Contains("Server-Timing", exposed, StringComparison.Ordinal);
        }

        foreach (var other in new[] { "http://other.test", "http://example.test:8080", "https://example.test" })
        {
            using var preflight = await server.Client.SendAsync(Preflight(other));
            Assert.False(preflight.Headers.Contains("Access-Control-Allow-Origin"), $"preflight from {other} allowed");
            using var actual = await server.Client.SendAsync(WithOrigin(Request(HttpMethod.Post, Infer, null), other));
            Assert.False(actual.Headers.Contains("Access-Control-Allow-Origin"), $"response to {other} allowed");
        }
    }

    /// <summary>A request that succeeds when allowed: GETs as they are, POSTs with a real photo (binary BYTES for infer).</summary>
    private static HttpRequestMessage Request(HttpMethod method, string path, string? authorization)
    {
        var request = new HttpRequestMessage(method, path);
        if (method == HttpMethod.Post)
        {
            var photo = File.ReadAllBytes(TestData.RealPhotos("cat", 1)[0]);
            request.Content = path.Contains("infer", StringComparison.OrdinalIgnoreCase)
                ? TritonWire.Binary("BYTES", [1], TritonWire.SerializeBytes([photo]))
                : new ByteArrayContent(photo);
        }

        if (authorization is not null)
        {
            request.Headers.TryAddWithoutValidation("Authorization", authorization);
        }

        return request;
    }

    private static HttpRequestMessage WithOrigin(HttpRequestMessage request, string origin)
    {
        request.Headers.Add("Origin", origin);
        return request;
    }

    /// <summary>What a browser sends before a cross-origin binary infer request.</summary>
    private static HttpRequestMessage Preflight(string origin)
    {
        var request = WithOrigin(new HttpRequestMessage(HttpMethod.Options, Infer), origin);
        request.Headers.Add("Access-Control-Request-Method", "POST");
        request.Headers.Add("Access-Control-Request-Headers", $"content-type,{TritonWire.HeaderLength.ToLowerInvariant()}");
        return request;
    }
}
