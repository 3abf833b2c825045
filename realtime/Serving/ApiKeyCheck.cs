using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace DogsVsCats.Vision.Realtime.Serving;

/// <summary>
/// --api-key: every endpoint but the health probes and the page's files needs "Authorization: Bearer KEY". Keys are
/// compared as SHA-256 digests in constant time, so neither the time nor a length difference tells a guess how close
/// it came.
/// </summary>
internal sealed class ApiKeyCheck(string key)
{
    private readonly byte[] expected = SHA256.HashData(Encoding.UTF8.GetBytes(key));

    /// <summary>
    /// The API (/v1, /v2 but its health probes, /metrics) is guarded; the page and its files are not. Compared as
    /// routing matches, ignoring case: /V2/models/... reaches the same endpoint and must meet the same check.
    /// </summary>
    public static bool Guards(PathString path) =>
        !path.StartsWithSegments("/v2/health", StringComparison.OrdinalIgnoreCase)
        && (path.StartsWithSegments("/v2", StringComparison.OrdinalIgnoreCase) || path.StartsWithSegments("/v1", StringComparison.OrdinalIgnoreCase) || path.StartsWithSegments("/metrics", StringComparison.OrdinalIgnoreCase));

    public bool Allows(string? authorization)
    {
        const string Scheme = "Bearer ";
        var given = authorization is not null && authorization.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase) ? authorization[Scheme.Length..].Trim() : "";
        return CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(given)), expected);
    }

    public static Task RefuseAsync(HttpContext context)
    {
        context.Response.Headers.WWWAuthenticate = "Bearer";
        return ErrorResponse.WriteAsync(context, StatusCodes.Status401Unauthorized, "This server needs an API key: send 'Authorization: Bearer KEY' (the key given to serve with --api-key or DOGSVSCATS_REALTIME__APIKEY).");
    }
}
