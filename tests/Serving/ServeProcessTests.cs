using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using DogsVsCats.Vision.Realtime.Hosting;
using DogsVsCats.Vision.Realtime.Inference;
using DogsVsCats.Vision.Realtime.Serving;
using DogsVsCats.Vision.Shared;
using DogsVsCats.Vision.Tests.Fixtures;
using DogsVsCats.Vision.Tests.Realtime;
using DogsVsCats.Vision.Trainer.Run;

namespace DogsVsCats.Vision.Tests.Serving;

/// <summary>
/// realtime serve as a user starts it, a child process on a free loopback port: its options on the command line and
/// from the environment, and the drain on SIGTERM or Ctrl+C (issue 19, point 3): readiness turns false, requests
/// already taken are answered, the process exits 0 within --drain-seconds.
/// </summary>
[Trait("Category", "Slow")]
[Collection(RealtimeProcessGroup.Name)]
public sealed class ServeProcessTests(SmallRunFixture run)
{
    private const string Key = "0f5e2d7c9b8a4136";

    private string ModelPath => Path.Combine(run.RunDirectory, TrainingRun.ModelFile);

    [Fact]
    public void Help_EveryServeOptionsProperty_IsListed()
    {
        var (code, output, _) = RealtimeProcess.Run(["serve", "--help"]);

        Assert.Equal(0, code);
        foreach (var property in new[] { typeof(ClassifierOptions), typeof(ServeOptions) }.SelectMany(t => t.GetProperties()).Where(p => p.CanWrite))
        {
            Assert.Contains(OptionBinder.OptionName(property.Name), output, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("--max-batch", "0", "--max-batch 0 must be")]
    [InlineData("--urls", "ftp://x", "--urls 'ftp://x' is not http://HOST:PORT")]
    [InlineData("--model-name", "cats/dogs", "--model-name 'cats/dogs' must be")]
    [InlineData("--cors-origins", "http://example.test/app", "--cors-origins 'http://example.test/app' is not an origin")]
    [InlineData("--api-key", "short-key", "--api-key must be at least 16 characters")]
    public void BadValue_Exits2NamingTheOption(string option, string value, string says)
    {
        var (code, _, error) = RealtimeProcess.Run(["serve", "--model", ModelPath, option, value]);

        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains(says, error, StringComparison.Ordinal);
        Assert.Contains("See 'realtime serve --help'", error, StringComparison.Ordinal);
    }

    /// <summary>
    /// The device lines as in the other modes, read against folder labelling of one photo on this machine: where
    /// ONNX Runtime cannot load CUDA, --device cuda stops with the same message and exit code 2, and --device auto says
    /// the same "Device: CPU (...)" line and serves on the CPU; where CUDA loads, both serve on it.
    /// </summary>
    [Fact]
    public async Task Device_CudaAndAuto_AsInFolderLabelling()
    {
        var work = Directory.CreateTempSubdirectory("dogsvscats-serve-device-");
        try
        {
            string[] folder = ["--model", ModelPath, "--source", TestData.RealPhotos("cat", 1)[0], "--csv", Path.Combine(work.FullName, "labels.csv")];
            var (labelCuda, labelCudaOutput, labelCudaError) = RealtimeProcess.Run([.. folder, "--device", "cuda"]);
            var (labelAuto, labelAutoOutput, _) = RealtimeProcess.Run([.. folder, "--device", "auto"]);
            Assert.Equal(ExitCodes.Ok, labelAuto);
            var cudaLoads = labelCuda == ExitCodes.Ok;

            using (var serve = ServeProcess.Start(ModelPath, $"http://127.0.0.1:{FreePort()}", [], device: "cuda"))
            {
                await WaitUntilAsync(() => serve.HasExited || serve.Output.Contains("Ready:", StringComparison.Ordinal), TimeSpan.FromSeconds(90), "serve --device cuda to exit or be ready");
                if (cudaLoads)
                {
                    Assert.Contains("on CUDA", serve.Output, StringComparison.Ordinal);
                }
                else
                {
                    Assert.True(await serve.WaitForExitAsync(TimeSpan.FromSeconds(30)), serve.Output);
                    Assert.Equal(ExitCodes.BadInput, labelCuda);
                    Assert.Equal(ExitCodes.BadInput, serve.ExitCode);
                    var refusal = DeviceText(labelCudaError, "--device cuda: ");
                    Assert.Contains("use --device auto|cpu", refusal, StringComparison.Ordinal);
                    Assert.Equal(refusal, DeviceText(serve.Output, "--device cuda: "));
                }
            }

            using var auto = ServeProcess.Start(ModelPath, $"http://127.0.0.1:{FreePort()}", [], device: "auto");
            await WaitUntilAsync(() => auto.HasExited || auto.Output.Contains("Ready:", StringComparison.Ordinal), TimeSpan.FromSeconds(90), "serve --device auto to be ready");
            Assert.False(auto.HasExited, auto.Output);
            Assert.Equal(DeviceText(labelAutoOutput, "Device: "), DeviceText(auto.Output, "Device: "));
            Assert.Contains(cudaLoads ? "on CUDA" : "on CPU", auto.Output, StringComparison.Ordinal);
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    [Fact]
    public void BeyondLoopback_TheWarningLineNamesTheAddress_LoopbackHasNone()
    {
        // Checked without binding: tests listen on loopback only.
        var wide = new ServeOptions { Urls = "http://0.0.0.0:8000;http://127.0.0.1:8001", ApiKey = Key };
        Assert.Equal(["Listening on http://0.0.0.0:8000: beyond this machine, for anyone who can reach it, with an API key."], ServeApp.BeyondLoopback(wide));
        Assert.Equal(["Listening on http://[::]:8000: beyond this machine, for anyone who can reach it (consider --api-key)."], ServeApp.BeyondLoopback(new ServeOptions { Urls = "http://[::]:8000" }));
        Assert.Empty(ServeApp.BeyondLoopback(new ServeOptions { Urls = "http://127.0.0.1:8000;http://[::1]:8001;http://localhost:8002" }));
    }

    [Fact]
    public async Task KeyFromTheEnvironment_GuardsTheApi()
    {
        var port = FreePort();
        var environment = new Dictionary<string, string> { ["DOGSVSCATS_REALTIME__APIKEY"] = Key };
        using var serve = ServeProcess.Start(ModelPath, $"http://127.0.0.1:{port}", ["--max-batch", "4"], environment);
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(30) };
        await serve.WaitReadyAsync(client);

        Assert.DoesNotContain("beyond this machine", serve.Output, StringComparison.Ordinal);
        using (var refused = await client.GetAsync("/v2"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        }

        using (var request = new HttpRequestMessage(HttpMethod.Get, "/v2"))
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Key);
            using var allowed = await client.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);
        }

        serve.Signal("TERM");
        Assert.True(await serve.WaitForExitAsync(TimeSpan.FromSeconds(30)), "serve did not exit within 30 s of SIGTERM");
        Assert.Equal(0, serve.ExitCode);
    }

    [Fact]
    public async Task PortZero_ReadyLineNamesThePortTheServerBound()
    {
        using var serve = ServeProcess.Start(ModelPath, "http://127.0.0.1:0", ["--max-batch", "4"]);
        var ready = new System.Text.RegularExpressions.Regex(@"Ready: open http://127\.0\.0\.1:(\d+)/ in a browser");
        await WaitUntilAsync(() => serve.HasExited || ready.IsMatch(serve.Output), TimeSpan.FromSeconds(90), "the ready line");
        Assert.False(serve.HasExited, serve.Output);

        var port = int.Parse(ready.Match(serve.Output).Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.NotEqual(0, port);
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(30) };
        using (var response = await client.GetAsync("/v2/health/ready"))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        serve.Signal("TERM");
        Assert.True(await serve.WaitForExitAsync(TimeSpan.FromSeconds(30)), "serve did not exit within 30 s of SIGTERM");
        Assert.Equal(0, serve.ExitCode);
    }

    [Theory]
    [InlineData("TERM")]
    [InlineData("INT")]
    public async Task Signal_AnswersTakenRequests_RefusesNewOnes_Exits0WithinTheDrain(string signal)
    {
        const int DrainSeconds = 10;
        var port = FreePort();
        // The host's own request log (Information) says which requests the server started and how each ended.
        var environment = new Dictionary<string, string> { ["DOGSVSCATS_Logging__LogLevel__Microsoft.AspNetCore.Hosting.Diagnostics"] = "Information" };
        using var serve = ServeProcess.Start(ModelPath, $"http://127.0.0.1:{port}", ["--max-batch", "4", "--drain-seconds", $"{DrainSeconds}"], environment);
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(60) };
        await serve.WaitReadyAsync(client);
        var photo = File.ReadAllBytes(TestData.RealPhotos("cat", 1)[0]);
        var clock = Stopwatch.StartNew();
        var answers = new ConcurrentQueue<(TimeSpan At, string Outcome)>();
        var readiness = new ConcurrentQueue<string>();

        async Task Send()
        {
            while (!serve.HasExited)
            {
                using var content = new ByteArrayContent(photo);
                content.Headers.ContentType = new MediaTypeHeaderValue("image/jpeg");
                var outcome = await Outcome(() => client.PostAsync("/v1/classify", content));
                answers.Enqueue((clock.Elapsed, outcome));
                if (outcome is not ("200" or "503" or "closed"))
                {
                    return;
                }
            }
        }

        async Task Probe()
        {
            while (!serve.HasExited)
            {
                var outcome = await Outcome(() => client.GetAsync("/v2/health/ready"));
                readiness.Enqueue(outcome);
                if (outcome is not ("200" or "503"))
                {
                    return;
                }
            }
        }

        var clients = Enumerable.Range(0, 8).Select(_ => Task.Run(Send)).Append(Task.Run(Probe)).ToArray();
        await WaitUntilAsync(() => answers.Count(a => a.Outcome == "200") >= 16, TimeSpan.FromSeconds(60), "16 requests answered");
        var signalledAt = clock.Elapsed;
        serve.Signal(signal);
        var exited = await serve.WaitForExitAsync(TimeSpan.FromSeconds(DrainSeconds + 15));
        var exitedAt = clock.Elapsed;
        await Task.WhenAll(clients);

        Assert.True(exited, $"serve did not exit within {DrainSeconds + 15} s of SIG{signal}:\n{serve.Output}");
        Assert.Equal(0, serve.ExitCode);
        Assert.True(exitedAt - signalledAt < TimeSpan.FromSeconds(DrainSeconds + 5), $"exit took {exitedAt - signalledAt}");
        // Every request the server started it finished, 200 or (once draining) 503 with Retry-After, and the client
        // got each answer. What else the clients saw is a connection refused once the listener closed, or closed as
        // they sent on it (HTTP/1.1's keep-alive race), for requests the server never started: never a taken one cut off.
        var log = serve.Output.Split('\n');
        var started = log.Count(l => l.Contains("Request starting HTTP/1.1 POST", StringComparison.Ordinal) && l.Contains("/v1/classify", StringComparison.Ordinal));
        var finished = log.Count(l => l.Contains("Request finished HTTP/1.1 POST", StringComparison.Ordinal) && (l.Contains("/v1/classify - 200", StringComparison.Ordinal) || l.Contains("/v1/classify - 503", StringComparison.Ordinal)));
        var answered = answers.Count(a => a.Outcome is "200" or "503");
        Assert.True(started == finished && finished == answered, $"started {started}, finished {finished}, answered {answered}:\n" + string.Join('\n', answers));
        var unexpected = answers.Where(a => a.Outcome is not ("200" or "503" or "refused" or "closed")).ToList();
        Assert.True(unexpected.Count == 0, string.Join('\n', unexpected) + "\n" + serve.Output);
        // The requests in flight when the signal came were answered, not dropped.
        Assert.Contains(answers, a => a.At > signalledAt && a.Outcome == "200");
        // Once not ready, never ready again.
        var states = readiness.ToList();
        var firstNotReady = states.FindIndex(s => s != "200");
        Assert.True(firstNotReady < 0 || states.Skip(firstNotReady).All(s => s != "200"), string.Join(',', states));
        Assert.Contains("Stopping: not ready, no new requests", serve.Output, StringComparison.Ordinal);
    }

    /// <summary>
    /// "200", "503" (with Retry-After), "refused" (the listener has closed), "closed" (the connection ended before any
    /// answer), or what else happened.
    /// </summary>
    private static async Task<string> Outcome(Func<Task<HttpResponseMessage>> send)
    {
        try
        {
            using var response = await send();
            await response.Content.ReadAsByteArrayAsync();
            return response.StatusCode switch
            {
                HttpStatusCode.OK => "200",
                HttpStatusCode.ServiceUnavailable when response.Headers.RetryAfter is not null => "503",
                var status => $"{(int)status} {await response.Content.ReadAsStringAsync()}",
            };
        }
        catch (HttpRequestException e) when (e.InnerException is SocketException { SocketErrorCode: SocketError.ConnectionRefused })
        {
            return "refused";
        }
        catch (HttpRequestException e) when (e.HttpRequestError == HttpRequestError.ResponseEnded)
        {
            return "closed";
        }
        catch (Exception e) when (e is HttpRequestException or IOException or TaskCanceledException)
        {
            return $"{e.GetType().Name}: {e.Message} {e.InnerException?.Message}";
        }
    }

    private static async Task WaitUntilAsync(Func<bool> condition, TimeSpan timeout, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(clock.Elapsed < timeout, $"not within {timeout}: {what}");
            await Task.Delay(20);
        }
    }

    /// <summary>The rest of the first line that holds <paramref name="from"/>, from there: without the logger's time and category.</summary>
    private static string DeviceText(string output, string from)
    {
        var line = output.Split('\n').FirstOrDefault(l => l.Contains(from, StringComparison.Ordinal));
        Assert.True(line is not null, $"no line with '{from}' in:\n{output}");
        return line[line.IndexOf(from, StringComparison.Ordinal)..].TrimEnd();
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>A running <c>realtime serve</c>, its output gathered as it comes; killed on dispose if still running.</summary>
    private sealed class ServeProcess : IDisposable
    {
        private readonly Process process;
        private readonly ConcurrentQueue<string> lines = new();

        private ServeProcess(Process process)
        {
            this.process = process;
            process.OutputDataReceived += (_, e) => Gather(e.Data);
            process.ErrorDataReceived += (_, e) => Gather(e.Data);
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
        }

        public string Output => string.Join('\n', lines);

        public bool HasExited => process.HasExited;

        public int ExitCode => process.ExitCode;

        public static ServeProcess Start(string model, string urls, IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null, string device = "cpu")
        {
            string[] all = ["serve", "--model", model, "--device", device, "--urls", urls, .. args];
            return new ServeProcess(Process.Start(RealtimeProcess.StartInfo(all, environment))!);
        }

        public async Task WaitReadyAsync(HttpClient client)
        {
            await WaitUntilAsync(
                () => process.HasExited || Ready(client),
                TimeSpan.FromSeconds(90),
                "serve ready");
            Assert.False(process.HasExited, $"serve exited with {(process.HasExited ? process.ExitCode : 0)}:\n{Output}");
        }

        /// <summary>Sends SIGTERM or SIGINT (Ctrl+C) as kill(1) does; Process.Kill would send SIGKILL.</summary>
        public void Signal(string name)
        {
            using var kill = Process.Start("kill", ["-s", name, process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
            kill.WaitForExit();
            Assert.Equal(0, kill.ExitCode);
        }

        public async Task<bool> WaitForExitAsync(TimeSpan timeout)
        {
            using var cancel = new CancellationTokenSource(timeout);
            try
            {
                await process.WaitForExitAsync(cancel.Token);
                return true;
            }
            catch (OperationCanceledException)
            {
                return false;
            }
        }

        public void Dispose()
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit();
            }

            process.Dispose();
        }

        private static bool Ready(HttpClient client)
        {
            try
            {
                using var response = client.GetAsync("/v2/health/ready").GetAwaiter().GetResult();
                return response.IsSuccessStatusCode;
            }
            catch (HttpRequestException)
            {
                return false;
            }
        }

        private void Gather(string? line)
        {
            if (line is not null)
            {
                lines.Enqueue(line);
            }
        }
    }
}
