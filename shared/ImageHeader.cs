using System.Buffers.Binary;

namespace DogsVsCats.Vision.Shared;

/// <summary>
/// Reads the pixel size an encoded JPEG, PNG, BMP or WebP image declares in its header, without decoding it: what a
/// server checks before it lets a decoder allocate memory for a stranger's upload.
/// </summary>
public static class ImageHeader
{
    /// <summary>False when the format is not one of the four or the header is cut short.</summary>
    public static bool TryReadSize(ReadOnlySpan<byte> bytes, out int width, out int height)
    {
        (width, height) = (0, 0);
        if (bytes.Length >= 24 && bytes.StartsWith((byte[])[0x89, 0x50, 0x4E, 0x47]))
        {
            // PNG: the IHDR chunk comes first; width and height are big-endian at 16 and 20.
            return Set(BinaryPrimitives.ReadUInt32BigEndian(bytes[16..]), BinaryPrimitives.ReadUInt32BigEndian(bytes[20..]), out width, out height);
        }

        if (bytes.Length >= 26 && bytes.StartsWith("BM"u8))
        {
            // BMP (BITMAPINFOHEADER and later): little-endian width at 18, height at 22, negative for top-down rows.
            return Set((uint)Math.Abs((long)BinaryPrimitives.ReadInt32LittleEndian(bytes[18..])), (uint)Math.Abs((long)BinaryPrimitives.ReadInt32LittleEndian(bytes[22..])), out width, out height);
        }

        if (bytes.Length >= 30 && bytes.StartsWith("RIFF"u8) && bytes.Slice(8, 4).SequenceEqual("WEBP"u8))
        {
            return TryWebP(bytes, out width, out height);
        }

        return bytes.Length >= 4 && bytes[0] == 0xFF && bytes[1] == 0xD8 && TryJpeg(bytes, out width, out height);
    }

    private static bool TryWebP(ReadOnlySpan<byte> bytes, out int width, out int height)
    {
        var chunk = bytes.Slice(12, 4);
        if (chunk.SequenceEqual("VP8X"u8))
        {
            // Extended: 24-bit little-endian width - 1 at 24, height - 1 at 27.
            return Set((uint)(bytes[24] | (bytes[25] << 8) | (bytes[26] << 16)) + 1, (uint)(bytes[27] | (bytes[28] << 8) | (bytes[29] << 16)) + 1, out width, out height);
        }

        if (chunk.SequenceEqual("VP8L"u8))
        {
            // Lossless: after the 0x2F signature at 20, 14 bits of width - 1 and 14 of height - 1.
            var bits = BinaryPrimitives.ReadUInt32LittleEndian(bytes[21..]);
            return Set((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1, out width, out height);
        }

        if (chunk.SequenceEqual("VP8 "u8))
        {
            // Lossy: the key frame's 14-bit width and height at 26 and 28.
            return Set(BinaryPrimitives.ReadUInt16LittleEndian(bytes[26..]) & 0x3FFFu, BinaryPrimitives.ReadUInt16LittleEndian(bytes[28..]) & 0x3FFFu, out width, out height);
        }

        (width, height) = (0, 0);
        return false;
    }

    private static bool TryJpeg(ReadOnlySpan<byte> bytes, out int width, out int height)
    {
        // Walk the marker segments to the first start-of-frame (SOF0-SOF15 but DHT C4, JPG C8 and DAC CC).
        var at = 2;
        while (at + 9 < bytes.Length)
        {
            if (bytes[at] != 0xFF)
            {
                break;
            }

            var marker = bytes[at + 1];
            if (marker == 0xFF)
            {
                at++;   // fill byte
                continue;
            }

            var length = BinaryPrimitives.ReadUInt16BigEndian(bytes[(at + 2)..]);
            if (marker is >= 0xC0 and <= 0xCF and not 0xC4 and not 0xC8 and not 0xCC)
            {
                return Set(BinaryPrimitives.ReadUInt16BigEndian(bytes[(at + 7)..]), BinaryPrimitives.ReadUInt16BigEndian(bytes[(at + 5)..]), out width, out height);
            }

            if (marker == 0xDA || length < 2)
            {
                break;   // the scan starts before any frame header, or the segment is corrupt
            }

            at += 2 + length;
        }

        (width, height) = (0, 0);
        return false;
    }

    private static bool Set(uint w, uint h, out int width, out int height)
    {
        (width, height) = ((int)Math.Min(w, int.MaxValue), (int)Math.Min(h, int.MaxValue));
        return true;
    }
}
