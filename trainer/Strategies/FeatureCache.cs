using System.Security.Cryptography;
using System.Text;
using DogsVsCats.Vision.Shared;
using DogsVsCats.Vision.Trainer.Data;
using DogsVsCats.Vision.Trainer.Models;

namespace DogsVsCats.Vision.Trainer.Strategies;

/// <summary>
/// Pooled backbone features on disk. The key hashes everything that decides a vector: the backbone's name and weight
/// bytes, the resize rule and input size, and every image's path, size, modification time and label, so a changed
/// dataset, backbone or preprocessing never reuses a stale cache.
/// </summary>
public static class FeatureCache
{
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

    public static bool TryLoad(string path, out float[] features, out int dimension, out int[] labels)
    {
        features = [];
        labels = [];
        dimension = 0;
        if (!File.Exists(path))
        {
            return false;
        }

        try
        {
            using var reader = new BinaryReader(File.OpenRead(path));
            if (reader.ReadString() != Magic)
            {
                return false;
            }

            var count = reader.ReadInt32();
            dimension = reader.ReadInt32();
            features = new float[count * dimension];
            reader.BaseStream.ReadExactly(System.Runtime.InteropServices.MemoryMarshal.AsBytes(features.AsSpan()));
            labels = new int[count];
            reader.BaseStream.ReadExactly(System.Runtime.InteropServices.MemoryMarshal.AsBytes(labels.AsSpan()));
            return true;
        }
        catch (Exception e) when (e is IOException or EndOfStreamException)
        {
            return false;   // A damaged cache is recomputed, never trusted.
        }
    }

    public static void Save(string path, float[] features, int dimension, int[] labels)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        AtomicFile.Write(path, temp =>
        {
            using var writer = new BinaryWriter(File.Create(temp));
            writer.Write(Magic);
            writer.Write(labels.Length);
            writer.Write(dimension);
            writer.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(features.AsSpan()));
            writer.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(labels.AsSpan()));
        });
    }
}
