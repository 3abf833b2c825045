using System.Buffers;
using Microsoft.AspNetCore.Http;

namespace DogsVsCats.Vision.Realtime.Serving;

/// <summary>
/// A request body read whole into a pooled buffer (returned on dispose), so a stream of large tensor requests does
/// not churn the large-object heap. Kestrel's own limits apply while it is read: the size limit (413) and the
/// minimum data rate that cuts off a client trickling bytes.
/// </summary>
internal sealed class RequestBody : IDisposable
{
    private byte[]? buffer;

    private RequestBody(byte[] buffer, int length) => (this.buffer, Length) = (buffer, length);

    public int Length { get; }

    public ReadOnlyMemory<byte> Memory => (buffer ?? throw new ObjectDisposedException(nameof(RequestBody))).AsMemory(0, Length);

    public static async Task<RequestBody> ReadAsync(HttpRequest request, long maxBytes, CancellationToken cancel)
    {
        if (request.ContentLength > maxBytes)
        {
            throw TooLarge(request.ContentLength.Value, maxBytes);
        }

        // The buffer grows as bytes arrive, from at most 1 MiB: a client that declares a large body and then trickles
        // it holds no more memory than it has sent, until Kestrel's minimum data rate cuts it off.
        var size = (int)Math.Min(request.ContentLength ?? 64 * 1024, 1024 * 1024);
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(size, 1));
        var length = 0;
        try
        {
            while (true)
            {
                if (length == request.ContentLength)
                {
                    return new RequestBody(buffer, length);   // all declared bytes are in: no read for the end
                }

                if (length == buffer.Length)
                {
                    if (length >= maxBytes)
                    {
                        // Only a body without Content-Length gets here; Kestrel's limit would stop it too, a read later.
                        throw TooLarge(length + 1, maxBytes);
                    }

                    var larger = ArrayPool<byte>.Shared.Rent((int)Math.Min((long)buffer.Length * 2, maxBytes));
                    buffer.AsSpan(0, length).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }

                var read = await request.Body.ReadAsync(buffer.AsMemory(length), cancel);
                if (read == 0)
                {
                    return new RequestBody(buffer, length);
                }

                length += read;
            }
        }
        catch (BadHttpRequestException e)
        {
            ArrayPool<byte>.Shared.Return(buffer);
            throw new ProtocolException(e.StatusCode, e.StatusCode == StatusCodes.Status413PayloadTooLarge
                ? $"The request body is larger than the server's limit of {maxBytes / (1024 * 1024)} MiB (--max-request-mb)."
                : $"The request body could not be read: {e.Message}");
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(buffer);
            throw;
        }
    }

    public void Dispose()
    {
        if (buffer is not null)
        {
            ArrayPool<byte>.Shared.Return(buffer);
            buffer = null;
        }
    }

    private static ProtocolException TooLarge(long length, long maxBytes) =>
        new(StatusCodes.Status413PayloadTooLarge, $"The request body ({length:N0} bytes) is larger than the server's limit of {maxBytes / (1024 * 1024)} MiB (--max-request-mb); send fewer or smaller images per request.");
}
