using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using DogsVsCats.Vision.Benchmarks;
using DogsVsCats.Vision.Tests.Fixtures;
using DogsVsCats.Vision.Trainer.Run;

namespace DogsVsCats.Vision.Tests.Serving;

/// <summary>One server for the hostile-input tests: 1 MiB body limit, small batches so it is ready in a moment.</summary>
public sealed class LimitedServerFixture : IAsyncDisposable
{
    public const int MaxRequestMb = 1;

    private readonly SemaphoreSlim gate = new(1, 1);
    private RunningServer? server;

    internal async Task<RunningServer> StartAsync(string model)
    {
        await gate.WaitAsync();
        try
        {
            return server ??= await RunningServer.StartAsync(model, o => (o.MaxRequestMb, o.MaxBatch) = (MaxRequestMb, 4));
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

        gate.Dispose();
    }
}

/// <summary>
/// What a stranger may send (issue 19, point 9): each hostile request gets a 4xx that says what is wrong, or is cut
/// off by a limit, and the server answers an ordinary request right after (or meanwhile).
/// </summary>
[Trait("Category", "Slow")]
[Collection(SmallRunGroup.Name)]
public sealed class ServeHostileInputTests(SmallRunFixture run, LimitedServerFixture fixture) : IClassFixture<LimitedServerFixture>
{
    private const string Infer = "/v2/models/dogsvscats/infer";

    private string ModelPath => Path.Combine(run.RunDirectory, TrainingRun.ModelFile);

    public static TheoryData<string, string, string> HostileRequests => new()
    {
        { "infer, empty body", Infer, "body is empty" },
        { "classify, empty body", "/v1/classify", "No photo" },
        { "classify, not an image", "/v1/classify", "not an image" },
        { "infer, not an image", Infer, "element 0: not an image" },
        { "classify, truncated JPEG", "/v1/classify", "truncated JPEG" },
        { "infer, truncated JPEG", Infer, "truncated JPEG" },
        { "classify, PNG declaring 30000 x 30000", "/v1/classify", "declares 30000 x 30000 pixels" },
        { "infer, JPEG declaring 30000 x 30000", Infer, "declares 30000 x 30000 pixels" },
        { "infer, 100000 nested arrays", Infer, "not valid JSON" },
        { "infer, header length beyond the body", Infer, "says the JSON header is" },
        { "infer, header length not a number", Infer, "is not a length in bytes" },
        { "infer, binary_data_size beyond the body", Infer, "binary_data_size" },
        { "infer, BYTES element longer than its data", Infer, "only 3 remain" },
        { "classify, multipart file not an image", "/v1/classify", "file 'evil.jpg': not an image" },
    };

    [Theory]
    [MemberData(nameof(HostileRequests))]
    public async Task HostileRequest_Answers400SayingWhy_AndTheServerAnswersTheNextRequest(string request, string path, string says)
    {
        var server = await fixture.StartAsync(ModelPath);
        var clock = Stopwatch.StartNew();

        using (var response = await server.Client.PostAsync(path, Content(request)))
        {
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            var error = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!.GetValue<string>();
            Assert.Contains(says, error, StringComparison.Ordinal);
        }

        // Refused from the header or the parser's depth limit, never by decoding or walking the whole input.
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"{request} took {clock.Elapsed}");
        await AssertServesAsync(server.Client);
    }

    [Theory]
    [InlineData(Infer, false, false)]
    [InlineData(Infer, true, false)]
    [InlineData("/v1/classify", false, false)]
    [InlineData("/v1/classify", true, false)]
    [InlineData("/v1/classify", false, true)]
    [InlineData("/v1/classify", true, true)]
    public async Task BodyOverMaxRequestMb_413_WithContentLengthOrChunked(string path, bool chunked, bool multipart)
    {
        var server = await fixture.StartAsync(ModelPath);
        var photo = new byte[(LimitedServerFixture.MaxRequestMb * 1024 * 1024) + 1];
        byte[] body = multipart
            ? [.. "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.jpg\"\r\n\r\n"u8, .. photo, .. "\r\n--b--\r\n"u8]
            : photo;

        var answer = await SendAsCurlDoesAsync(server.Address, path, multipart ? "multipart/form-data; boundary=b" : "application/octet-stream", body, chunked);

        Assert.StartsWith("HTTP/1.1 413", answer, StringComparison.Ordinal);
        Assert.Contains("--max-request-mb", answer, StringComparison.Ordinal);
        await AssertServesAsync(server.Client);
    }

    [Fact]
    public async Task SlowClients_TricklingHeadersOrBody_AreCutOffByKestrelsLimits_WhileOthersAreServed()
    {
        var server = await fixture.StartAsync(ModelPath);
        var clock = Stopwatch.StartNew();
        // A body at 1 byte/s falls under Kestrel's minimum data rate (240 bytes/s after a 5 s grace); headers at
        // 1 byte/s never end and meet the 10 s RequestHeadersTimeout.
        var body = TrickleAsync(server.Address, "POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\nContent-Length: 100000\r\n\r\n");
        var headers = TrickleAsync(server.Address, "GET /v2/health/live HTTP/1.1\r\nHost: x\r\nX-Slow: ");

        var served = 0;
        while (!(body.IsCompleted && headers.IsCompleted))
        {
            await AssertServesAsync(server.Client);
            served++;
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), "the slow clients were not cut off within 20 s");
        }

        var (bodyCutAfter, bodyAnswer) = await body;
        var (headersCutAfter, headersAnswer) = await headers;
        Assert.InRange(bodyCutAfter.TotalSeconds, 4, 12);
        Assert.InRange(headersCutAfter.TotalSeconds, 9, 14);
        // Either cut without a word or told 408; never answered as if the request were whole.
        Assert.True(bodyAnswer is "" || bodyAnswer.StartsWith("HTTP/1.1 408", StringComparison.Ordinal), bodyAnswer);
        Assert.True(headersAnswer is "" || headersAnswer.StartsWith("HTTP/1.1 408", StringComparison.Ordinal), headersAnswer);
        Assert.True(served > 3, $"only {served} ordinary requests were answered while the slow clients trickled");
    }

    /// <summary>The ordinary request: a real photo, classified.</summary>
    private static async Task AssertServesAsync(HttpClient client)
    {
        using var photo = new ByteArrayContent(File.ReadAllBytes(TestData.RealPhotos("cat", 1)[0]));
        photo.Headers.ContentType = new MediaTypeHeaderValue("image/jpeg");
        using var response = await client.PostAsync("/v1/classify", photo);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.NotNull(JsonNode.Parse(await response.Content.ReadAsStringAsync())!["label"]);
    }

    /// <summary>
    /// Sends <paramref name="start"/>, then one byte a second until the server answers or closes the connection:
    /// how long that took and the answer's first bytes ("" when it closed without one).
    /// </summary>
    private static async Task<(TimeSpan CutAfter, string Answer)> TrickleAsync(Uri server, string start)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(server.Host, server.Port);
        var stream = client.GetStream();
        var clock = Stopwatch.StartNew();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(start));
        var answer = new byte[64];
        var read = stream.ReadAsync(answer).AsTask();
        using var pace = new PeriodicTimer(TimeSpan.FromSeconds(1));
        while (!read.IsCompleted && clock.Elapsed < TimeSpan.FromSeconds(20))
        {
            await Task.WhenAny(read, pace.WaitForNextTickAsync().AsTask());
            if (!read.IsCompleted)
            {
                try
                {
                    await stream.WriteAsync("a"u8.ToArray());
                }
                catch (IOException)
                {
                    // The server closed the connection; the read says how.
                }
            }
        }

        Assert.True(read.IsCompleted, "the server let a client trickle for 20 s");
        try
        {
            var count = await read;
            return (clock.Elapsed, Encoding.ASCII.GetString(answer, 0, count));
        }
        catch (IOException)
        {
            return (clock.Elapsed, "");
        }
    }

    /// <summary>
    /// POSTs <paramref name="body"/> with its Content-Length or chunked, reading the answer while it sends as curl does
    /// (HttpClient would not read a refusal that comes before the body is sent), until the server closes.
    /// </summary>
    private static async Task<string> SendAsCurlDoesAsync(Uri server, string path, string contentType, byte[] body, bool chunked)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(server.Host, server.Port);
        var stream = client.GetStream();
        var framing = chunked ? "Transfer-Encoding: chunked" : $"Content-Length: {body.Length}";
        await stream.WriteAsync(Encoding.ASCII.GetBytes($"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {contentType}\r\n{framing}\r\n\r\n"));
        var answer = new MemoryStream();
        var reading = stream.CopyToAsync(answer);
        const int Piece = 64 * 1024;
        try
        {
            for (var at = 0; at < body.Length && !reading.IsCompleted; at += Piece)
            {
                var piece = body.AsMemory(at, Math.Min(Piece, body.Length - at));
                if (chunked)
                {
                    await stream.WriteAsync(Encoding.ASCII.GetBytes($"{piece.Length:x}\r\n"));
                }

                await stream.WriteAsync(piece);
                if (chunked)
                {
                    await stream.WriteAsync("\r\n"u8.ToArray());
                }
            }

            if (chunked && !reading.IsCompleted)
            {
                await stream.WriteAsync("0\r\n\r\n"u8.ToArray());
            }
        }
        catch (IOException)
        {
            // The server refused the rest; its answer is being read.
        }

        var finished = await Task.WhenAny(reading, Task.Delay(TimeSpan.FromSeconds(30)));
        Assert.True(finished == reading, "the server neither answered nor closed within 30 s");
        try
        {
            await reading;
        }
        catch (IOException)
        {
            // A reset after the answer: what was read stands.
        }

        return Encoding.ASCII.GetString(answer.ToArray());
    }

    private static HttpContent Content(string request)
    {
        var photo = File.ReadAllBytes(TestData.RealPhotos("cat", 1)[0]);
        var truncated = photo[..(photo.Length / 2)];
        var notAnImage = "hello, this is text"u8.ToArray();
        return request switch
        {
            "infer, empty body" or "classify, empty body" => new ByteArrayContent([]),
            "classify, not an image" => new ByteArrayContent(notAnImage),
            "infer, not an image" => TritonWire.Binary("BYTES", [1], TritonWire.SerializeBytes([notAnImage])),
            "classify, truncated JPEG" => new ByteArrayContent(truncated),
            "infer, truncated JPEG" => TritonWire.Binary("BYTES", [1], TritonWire.SerializeBytes([truncated])),
            "classify, PNG declaring 30000 x 30000" => new ByteArrayContent(HugePng()),
            "infer, JPEG declaring 30000 x 30000" => TritonWire.Binary("BYTES", [1], TritonWire.SerializeBytes([HugeJpeg()])),
            "infer, 100000 nested arrays" => new StringContent(new string('[', 100_000) + new string(']', 100_000)),
            "infer, header length beyond the body" => WithHeaderLength(TritonWire.Binary("BYTES", [1], TritonWire.SerializeBytes([photo])), photo.Length * 2),
            "infer, header length not a number" => WithHeaderLength(new StringContent("{}"), "ten"),
            "infer, binary_data_size beyond the body" => Claiming(TritonWire.Binary("BYTES", [1], TritonWire.SerializeBytes([photo])), photo.Length + 4, photo.Length + 1000),
            "infer, BYTES element longer than its data" => TritonWire.Binary("BYTES", [1], [.. TritonWire.SerializeBytes([photo])[..4], 1, 2, 3]),
            "classify, multipart file not an image" => Multipart("evil.jpg", notAnImage),
            _ => throw new ArgumentOutOfRangeException(nameof(request), request, "no such case"),
        };
    }

    private static HttpContent WithHeaderLength(HttpContent content, object length)
    {
        content.Headers.Remove(TritonWire.HeaderLength);
        content.Headers.TryAddWithoutValidation(TritonWire.HeaderLength, Convert.ToString(length, System.Globalization.CultureInfo.InvariantCulture));
        return content;
    }

    /// <summary>The same request with its binary_data_size changed from <paramref name="actual"/> to <paramref name="claimed"/>.</summary>
    private static ByteArrayContent Claiming(HttpContent content, int actual, int claimed)
    {
        var bytes = content.ReadAsByteArrayAsync().GetAwaiter().GetResult();
        var headerLength = int.Parse(content.Headers.GetValues(TritonWire.HeaderLength).Single(), System.Globalization.CultureInfo.InvariantCulture);
        var header = Encoding.UTF8.GetString(bytes, 0, headerLength).Replace($"\"binary_data_size\": {actual}", $"\"binary_data_size\": {claimed}", StringComparison.Ordinal);
        Assert.Contains(claimed.ToString(System.Globalization.CultureInfo.InvariantCulture), header, StringComparison.Ordinal);
        content.Dispose();
        var json = Encoding.UTF8.GetBytes(header);
        var changed = new ByteArrayContent([.. json, .. bytes.AsSpan(headerLength)]);
        changed.Headers.Add(TritonWire.HeaderLength, json.Length.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return changed;
    }

    private static MultipartFormDataContent Multipart(string name, byte[] bytes) => new() { { new ByteArrayContent(bytes), "file", name } };

    /// <summary>A 33-byte PNG: the signature and an IHDR chunk declaring 30,000 x 30,000 RGB pixels (2.7 GB decoded), nothing else.</summary>
    private static byte[] HugePng()
    {
        var png = new byte[33];
        new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }.CopyTo(png, 0);
        BinaryPrimitives.WriteUInt32BigEndian(png.AsSpan(8), 13);
        "IHDR"u8.CopyTo(png.AsSpan(12));
        BinaryPrimitives.WriteUInt32BigEndian(png.AsSpan(16), 30_000);
        BinaryPrimitives.WriteUInt32BigEndian(png.AsSpan(20), 30_000);
        (png[24], png[25]) = (8, 2);   // 8 bits, truecolour; compression, filter, interlace 0; the CRC is left 0
        return png;
    }

    /// <summary>A JPEG start, a baseline frame header (SOF0) declaring 30,000 x 30,000 pixels in 3 components, and the end marker.</summary>
    private static byte[] HugeJpeg()
    {
        var frame = new byte[] { 0xFF, 0xC0, 0x00, 0x11, 8, 0, 0, 0, 0, 3, 1, 0x11, 0, 2, 0x11, 0, 3, 0x11, 0 };
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(5), 30_000);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(7), 30_000);
        return [0xFF, 0xD8, .. frame, 0xFF, 0xD9];
    }
}
