using System.Collections.Frozen;
using System.Diagnostics.CodeAnalysis;
using OpenCvSharp;

namespace DogsVsCats.Vision.Shared;

/// <summary>Reads image files the same way everywhere, and says in words why a file cannot be used.</summary>
public static class ImageFile
{
    // libjpeg pads a JPEG cut short with grey and reports success, so the end-of-image marker is checked by hand.
    // FF D9 cannot occur inside entropy-coded data (an FF byte there is always stuffed with 00), so finding it in the
    // tail means the file really ends. A small window tolerates the padding some cameras write after the marker.
    private const int JpegEndWindow = 1024;

    public static IReadOnlySet<string> Extensions { get; } =
        new[] { ".jpg", ".jpeg", ".png", ".bmp", ".webp" }.ToFrozenSet(StringComparer.OrdinalIgnoreCase);

    public static bool IsImagePath(string path) => Extensions.Contains(Path.GetExtension(path));

    /// <summary>Reads <paramref name="path"/> as an 8UC3 BGR image (grey and alpha are converted).</summary>
    public static bool TryRead(string path, [NotNullWhen(true)] out Mat? bgr, [NotNullWhen(false)] out string? error)
    {
        bgr = null;
        byte[] bytes;
        try
        {
            // Bytes + ImDecode rather than ImRead: ImRead cannot open non-ASCII paths on Windows.
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            error = $"cannot read the file ({ex.GetType().Name}: {ex.Message})";
            return false;
        }

        return TryDecode(bytes, long.MaxValue, out bgr, out error);
    }

    /// <summary>
    /// Decodes an encoded JPEG, PNG, BMP or WebP image held in memory as an 8UC3 BGR image. An image whose header
    /// declares more than <paramref name="maxPixels"/> pixels is refused before decoding, so a small file that claims
    /// 30,000 x 30,000 pixels cannot make the decoder allocate gigabytes.
    /// </summary>
    public static bool TryDecode(ReadOnlySpan<byte> bytes, long maxPixels, [NotNullWhen(true)] out Mat? bgr, [NotNullWhen(false)] out string? error)
    {
        bgr = null;
        if (bytes.Length == 0)
        {
            error = "empty file (0 bytes)";
            return false;
        }

        if (IsJpeg(bytes) && !HasJpegEnd(bytes))
        {
            error = $"truncated JPEG: no end-of-image marker (FF D9) in the last {Math.Min(JpegEndWindow, bytes.Length)} of {bytes.Length} bytes";
            return false;
        }

        if (!IsJpeg(bytes) && !HasSignature(bytes))
        {
            error = $"not an image or corrupt: its first bytes are not those of a JPEG, PNG, BMP or WebP file ({bytes.Length} bytes)";
            return false;
        }

        if (ImageHeader.TryReadSize(bytes, out var width, out var height) && (long)width * height > maxPixels)
        {
            error = $"the image declares {width} x {height} pixels, more than the {maxPixels:N0} allowed";
            return false;
        }

        var decoded = Cv2.ImDecode(bytes, ImreadModes.Color);
        if (decoded.Empty())
        {
            decoded.Dispose();
            error = $"not an image or corrupt: OpenCV could not decode its {bytes.Length} bytes";
            return false;
        }

        if (decoded.Type() != MatType.CV_8UC3)
        {
            // IMREAD_COLOR already yields 8UC3 for every codec OpenCV ships; this guards a future codec that does not.
            decoded.Dispose();
            error = $"unsupported pixel format {decoded.Type()} after decoding";
            return false;
        }

        bgr = decoded;
        error = null;
        return true;
    }

    /// <summary>
    /// What <see cref="TryRead"/> finds without decoding: the file opens, is not empty, starts like a JPEG, PNG, BMP or
    /// WebP file and, for a JPEG, ends with its end-of-image marker. Reads a few bytes at each end, so a large folder is
    /// checked in seconds; a file that passes may still fail to decode.
    /// </summary>
    public static bool TryCheck(string path, [NotNullWhen(false)] out string? error)
    {
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1, FileOptions.RandomAccess);
            if (stream.Length == 0)
            {
                error = "empty file (0 bytes)";
                return false;
            }

            var head = new byte[12];
            var read = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
            head = head[..read];
            if (!IsJpeg(head) && !HasSignature(head))
            {
                error = $"not an image or corrupt: its first bytes are not those of a JPEG, PNG, BMP or WebP file ({stream.Length} bytes)";
                return false;
            }

            if (IsJpeg(head))
            {
                var tail = new byte[(int)Math.Min(JpegEndWindow, stream.Length)];
                stream.Seek(-tail.Length, SeekOrigin.End);
                stream.ReadExactly(tail);
                if (!HasJpegEndInTail(tail, stream.Length))
                {
                    error = $"truncated JPEG: no end-of-image marker (FF D9) in the last {tail.Length} of {stream.Length} bytes";
                    return false;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            error = $"cannot read the file ({ex.GetType().Name}: {ex.Message})";
            return false;
        }

        error = null;
        return true;
    }

    private static bool HasSignature(ReadOnlySpan<byte> head) =>
        head.StartsWith((byte[])[0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])   // PNG
        || head.StartsWith("BM"u8)
        || (head.StartsWith("RIFF"u8) && head.Length >= 12 && head.Slice(8, 4).SequenceEqual("WEBP"u8));

    // A window of the file's last bytes (the file itself, or its tail): the marker must start at least 2 bytes in.
    private static bool HasJpegEndInTail(byte[] tail, long fileLength)
    {
        var start = fileLength == tail.Length ? 2 : 0;
        for (var i = tail.Length - 2; i >= start; i--)
        {
            if (tail[i] == 0xFF && tail[i + 1] == 0xD9)
            {
                return true;
            }
        }

        return false;
    }

    private static bool IsJpeg(ReadOnlySpan<byte> bytes) => bytes.Length >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF;

    private static bool HasJpegEnd(ReadOnlySpan<byte> bytes)
    {
        var start = Math.Max(2, bytes.Length - JpegEndWindow);
        for (var i = bytes.Length - 2; i >= start; i--)
        {
            if (bytes[i] == 0xFF && bytes[i + 1] == 0xD9)
            {
                return true;
            }
        }

        return false;
    }
}
