using DogsVsCats.Vision.Realtime.Inference;
using DogsVsCats.Vision.Realtime.Live;
using DogsVsCats.Vision.Realtime.Serving;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;

namespace DogsVsCats.Vision.Tests.Serving;

/// <summary>
/// The serve mode's host, started in this process on a free loopback port (Kestrel binds port 0), with the options a
/// test gives; <see cref="DisposeAsync"/> stops it as Ctrl+C would.
/// </summary>
internal sealed class RunningServer : IAsyncDisposable
{
    private readonly WebApplication app;

    private RunningServer(WebApplication app, ServeOptions options, Uri address)
    {
        (this.app, Options, Address) = (app, options, address);
        Client = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(120) };
    }

    public ServeOptions Options { get; }

    public Uri Address { get; }

    public HttpClient Client { get; }

    public IServiceProvider Services => app.Services;

    /// <summary>
    /// Starts a server for <paramref name="model"/> and waits (up to two minutes) until /v2/health/ready says so;
    /// with <paramref name="live"/>, its live loop too (serve --source).
    /// </summary>
    public static async Task<RunningServer> StartAsync(string model, Action<ServeOptions>? configure = null, bool waitReady = true, LiveOptions? live = null)
    {
        var options = new ServeOptions { Urls = "http://127.0.0.1:0", Source = live?.Source };
        configure?.Invoke(options);
        var errors = new List<string>();
        options.Validate(errors);
        Assert.Empty(errors);
        var app = ServeApp.Build(new ConfigurationBuilder().Build(), new ClassifierOptions { Model = model, Device = InferenceDevice.Cpu }, options, live);
        await app.StartAsync();
        var server = new RunningServer(app, options, new Uri(app.Urls.Single()));
        if (waitReady)
        {
            await server.WaitReadyAsync();
        }

        return server;
    }

    public async Task WaitReadyAsync()
    {
        var deadline = DateTime.UtcNow.AddMinutes(2);
        while (true)
        {
            using var response = await Client.GetAsync("/v2/health/ready");
            if (response.IsSuccessStatusCode)
            {
                return;
            }

            Assert.True(DateTime.UtcNow < deadline, "the server did not become ready within two minutes");
            await Task.Delay(50);
        }
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await app.StopAsync();
        await app.DisposeAsync();
    }
}

/// <summary>
/// A model file that is a named pipe: whoever opens it for reading (the server's model loader) blocks until the test
/// writes the model into it, so "the model is still loading" lasts exactly as long as a test looks.
/// </summary>
internal static class ModelPipe
{
    public static async Task<string> CreateAsync(string directory)
    {
        var pipe = Path.Combine(directory, "model.onnx");
        using var mkfifo = System.Diagnostics.Process.Start("mkfifo", [pipe]);
        await mkfifo.WaitForExitAsync();
        Assert.Equal(0, mkfifo.ExitCode);
        return pipe;
    }

    /// <summary>Writes <paramref name="model"/> into the pipe once, on a pool thread: opening a pipe blocks until its reader opens it.</summary>
    public static Task WriteAsync(string pipe, string model) => Task.Run(async () =>
    {
        await using var writer = new FileStream(pipe, FileMode.Open, FileAccess.Write);
        await writer.WriteAsync(await File.ReadAllBytesAsync(model));
    });
}
