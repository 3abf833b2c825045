namespace DogsVsCats.Vision.Realtime.Serving;

/// <summary>The HTTP server's settings (serve mode); bound by the app's option binder like every other mode's.</summary>
internal sealed class ServeOptions
{
    public const string DefaultUrl = "http://127.0.0.1:8000";

    /// <summary>Where Kestrel listens, separated by ';' (loopback unless chosen otherwise).</summary>
    public string Urls { get; set; } = DefaultUrl;

    /// <summary>The model's name in the Open Inference Protocol paths (/v2/models/NAME).</summary>
    public string ModelName { get; set; } = "dogsvscats";

    /// <summary>The most images one ONNX Runtime run takes from the queue.</summary>
    public int MaxBatch { get; set; } = 32;

    /// <summary>How long the oldest queued request waits for others to fill its batch.</summary>
    public double MaxQueueDelayMs { get; set; } = 2;

    /// <summary>Requests waiting for inference beyond which a new one is answered 503 at once.</summary>
    public int MaxQueue { get; set; } = 256;

    /// <summary>The largest request body, in MiB (413 beyond).</summary>
    public int MaxRequestMb { get; set; } = 32;

    /// <summary>Origins allowed to call the API from a browser page of their own, separated by ','; none by default.</summary>
    public string? CorsOrigins { get; set; }

    /// <summary>When set, every endpoint but health and the page's files needs 'Authorization: Bearer KEY'.</summary>
    public string? ApiKey { get; set; }

    /// <summary>Seconds a shutdown waits for queued and running requests before it gives up on them.</summary>
    public double DrainSeconds { get; set; } = 20;

    /// <summary>A camera, video or stream played by the live loop, which the page shows; none by default (no live loop).</summary>
    public string? Source { get; set; }

    public long MaxRequestBytes => MaxRequestMb * 1024L * 1024;

    public IReadOnlyList<string> UrlList => Urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    public IReadOnlyList<string> CorsOriginList => (CorsOrigins ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    public void Validate(ICollection<string> errors)
    {
        if (UrlList.Count == 0)
        {
            errors.Add($"--urls is empty; give one or more http://HOST:PORT separated by ';' (default {DefaultUrl}).");
        }

        foreach (var url in UrlList)
        {
            if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme != Uri.UriSchemeHttp || uri.AbsolutePath != "/")
            {
                errors.Add($"--urls '{url}' is not http://HOST:PORT (for example {DefaultUrl}; put HTTPS in front with a reverse proxy).");
            }
        }

        if (string.IsNullOrWhiteSpace(ModelName) || ModelName.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')))
        {
            errors.Add($"--model-name '{ModelName}' must be letters, digits, '-', '_' or '.' (it is part of the URL path).");
        }

        if (MaxBatch is < 1 or > 1024)
        {
            errors.Add($"--max-batch {MaxBatch} must be between 1 and 1024.");
        }

        if (MaxQueueDelayMs is < 0 or > 1000)
        {
            errors.Add($"--max-queue-delay-ms {MaxQueueDelayMs} must be between 0 and 1000.");
        }

        if (MaxQueue is < 1 or > 100_000)
        {
            errors.Add($"--max-queue {MaxQueue} must be between 1 and 100000.");
        }

        if (MaxRequestMb is < 1 or > 1024)
        {
            errors.Add($"--max-request-mb {MaxRequestMb} must be between 1 and 1024.");
        }

        foreach (var origin in CorsOriginList)
        {
            if (!Uri.TryCreate(origin, UriKind.Absolute, out var uri) || uri.AbsolutePath != "/" || origin.EndsWith('/'))
            {
                errors.Add($"--cors-origins '{origin}' is not an origin such as https://example.com (scheme, host and port, no path).");
            }
        }

        if (ApiKey is { } key && key.Trim().Length < 16)
        {
            errors.Add("--api-key must be at least 16 characters (for example from 'openssl rand -hex 16').");
        }

        if (DrainSeconds is < 0 or > 3600)
        {
            errors.Add($"--drain-seconds {DrainSeconds} must be between 0 and 3600.");
        }
    }
}
