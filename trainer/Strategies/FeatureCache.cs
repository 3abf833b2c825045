using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using DogsVsCats.Vision.Shared;
using DogsVsCats.Vision.Trainer.Data;
using DogsVsCats.Vision.Trainer.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace DogsVsCats.Vision.Trainer.Strategies;

/// <summary>
/// Pooled backbone features on disk. The key hashes everything that decides a vector: the backbone's name and weight
/// bytes, the resize rule and input size, and every image's path, size, modification time and label, so a changed
/// dataset, backbone or preprocessing never reuses a stale cache.
/// </summary>
internal static class FeatureCache
{
    /// <summary>Floats per read or write: 1 MiB, so the managed side stays this size whatever the number of photos.</summary>
    public const int ChunkFloats = 1 << 18;

    private const string Magic = "DVCFEAT1";

    /// <summary>SHA-256 of the weight files' bytes (tens of MB): computed once per run and shared by every split's key.</summary>
    public static string WeightsDigest(IEnumerable<string> weightFiles) => string.Join("|", weightFiles.Select(file =>
    {
        using var stream = File.OpenRead(file);
        return Convert.ToHexString(SHA256.HashData(stream));
    }));

    public static string Key(BackboneInfo backbone, string weightsDigest, ImageSet images, IReadOnlyList<string> classes)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        void Add(string text) => sha.AppendData(Encoding.UTF8.GetBytes(text + "\n"));
        Add(Magic);
        Add($"{backbone.Name}|{backbone.InputWidth}x{backbone.InputHeight}|{backbone.Preprocessing}");
        Add(weightsDigest);

        Add($"{ImagePreprocessing.ResizeRule}|{ImagePreprocessing.Interpolation}|{images.Width}x{images.Height}");
        Add(string.Join("|", classes));
        for (var i = 0; i < images.Count; i++)
        {
            var info = new FileInfo(images.Paths[i]);
            Add($"{Path.GetFullPath(images.Paths[i])}|{info.Length}|{info.LastWriteTimeUtc.Ticks}|{images.Labels[i]}");
        }

        return Convert.ToHexString(sha.GetHashAndReset())[..24].ToLowerInvariant();
    }

    public static string PathFor(string directory, string key) => Path.Combine(directory, $"features-{key}.bin");

    /// <summary>
    /// Reads a cache file into a new CPU float tensor <c>[count, dimension]</c>. The floats pass through one
    /// <see cref="ChunkFloats"/> buffer, so no managed array of the whole set is ever held beside the tensor. A damaged,
    /// short or over-long file returns false: it is recomputed, never trusted.
    /// </summary>
    public static bool TryLoad(string path, [NotNullWhen(true)] out Tensor? features, out int[] labels)
    {
        features = null;
        labels = [];
        if (!File.Exists(path))
        {
            return false;
        }

        Tensor? loaded = null;
        try
        {
            using var reader = new BinaryReader(File.OpenRead(path));
            if (reader.ReadString() != Magic)
            {
                return false;
            }

            var count = reader.ReadInt32();
            var dimension = reader.ReadInt32();
            // The header is checked against the file's length before anything is allocated: a damaged count must not
            // ask for gigabytes.
            if (count < 0 || dimension <= 0 || reader.BaseStream.Length - reader.BaseStream.Position != ((long)count * dimension + count) * sizeof(float))
            {
                return false;
            }

            loaded = empty([count, dimension], ScalarType.Float32);   // [count, D], CPU
            ReadFloats(reader.BaseStream, loaded);
            var read = new int[count];
            reader.BaseStream.ReadExactly(MemoryMarshal.AsBytes(read.AsSpan()));
            (features, labels, loaded) = (loaded, read, null);
            return true;
        }
        catch (Exception e) when (e is IOException or EndOfStreamException or FormatException)
        {
            return false;   // A damaged cache is recomputed, never trusted.
        }
        finally
        {
            loaded?.Dispose();
        }
    }

    /// <summary>Writes a CPU float tensor <c>[count, dimension]</c> and its labels, the floats through one bounded buffer.</summary>
    public static void Save(string path, Tensor features, int[] labels)
    {
        if (features.device_type != DeviceType.CPU || features.dtype != ScalarType.Float32 || features.ndim != 2 || !features.is_contiguous() || features.shape[0] != labels.Length)
        {
            throw new ArgumentException($"Features must be a contiguous CPU float tensor [{labels.Length}, D]; got {features.dtype} [{string.Join(", ", features.shape)}] on {features.device}.", nameof(features));
        }

        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        AtomicFile.Write(path, temp =>
        {
            using var writer = new BinaryWriter(File.Create(temp));
            writer.Write(Magic);
            writer.Write(labels.Length);
            writer.Write((int)features.shape[1]);
            WriteFloats(writer, features);
            writer.Write(MemoryMarshal.AsBytes(labels.AsSpan()));
        });
    }

    private static void ReadFloats(Stream stream, Tensor features)
    {
        var buffer = new float[ChunkFloats];
        using var flat = features.view(-1);
        for (long offset = 0; offset < flat.shape[0]; offset += ChunkFloats)
        {
            var count = (int)Math.Min(ChunkFloats, flat.shape[0] - offset);
            stream.ReadExactly(MemoryMarshal.AsBytes(buffer.AsSpan(0, count)));
            using var scope = NewDisposeScope();
            flat.narrow(0, offset, count).copy_(tensor(buffer).narrow(0, 0, count));
        }
    }

    private static void WriteFloats(BinaryWriter writer, Tensor features)
    {
        var buffer = new float[ChunkFloats];
        using var flat = features.view(-1);
        for (long offset = 0; offset < flat.shape[0]; offset += ChunkFloats)
        {
            var count = (int)Math.Min(ChunkFloats, flat.shape[0] - offset);
            using (var chunk = flat.narrow(0, offset, count))
            {
                chunk.data<float>().CopyTo(buffer);   // contiguous: one block copy of count floats
            }

            writer.Write(MemoryMarshal.AsBytes(buffer.AsSpan(0, count)));
        }
    }
}
