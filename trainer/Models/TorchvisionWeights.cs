using System.Collections;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace DogsVsCats.Vision.Trainer.Models;

/// <summary>A weights file that cannot be used as asked; the message names the file, what is wrong and what to do.</summary>
internal sealed class BackboneWeightsException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Reads a torchvision <c>state_dict</c> (<c>.pth</c>/<c>.pt</c> written by <c>torch.save(model.state_dict(), ...)</c>,
/// or <c>.safetensors</c>) through TorchSharp.PyBridge and copies it into a backbone whose parameter and buffer
/// names are torchvision's. Every key and shape is checked first, so a file for another network fails with one
/// message naming what differs, and nothing is half loaded.
/// </summary>
internal static class TorchvisionWeights
{
    /// <summary>Reads every tensor of the file (on the CPU, as stored). The caller disposes them.</summary>
    public static Dictionary<string, Tensor> Read(string path)
    {
        if (!File.Exists(path))
        {
            throw new BackboneWeightsException($"Weights file '{path}' does not exist.");
        }

        var extension = Path.GetExtension(path).ToLowerInvariant();
        try
        {
            if (extension == ".safetensors")
            {
                return Safetensors.LoadStateDict(path);
            }

            var table = PyTorchUnpickler.UnpickleStateDict(path);
            var result = new Dictionary<string, Tensor>();
            foreach (DictionaryEntry entry in table)
            {
                if (entry.Value is Tensor t)
                {
                    result[(string)entry.Key] = t;
                }
            }

            if (result.Count == 0)
            {
                var keys = table.Keys.Cast<object>().Select(k => k.ToString()).Take(5);
                throw new BackboneWeightsException(
                    $"'{path}' holds no tensors at its top level (keys: {string.Join(", ", keys)}): it looks like a training checkpoint, not a state_dict. " +
                    "Save the network's weights alone: torch.save(model.state_dict(), 'weights.pth').");
            }

            return result;
        }
        catch (BackboneWeightsException)
        {
            throw;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new BackboneWeightsException(
                $"Cannot read '{path}' as a PyTorch state_dict ({e.GetType().Name}: {e.Message}). " +
                "Use a .pth written by torch.save(model.state_dict(), ...) with PyTorch 1.6 or newer, or a .safetensors file; " +
                "an older file can be re-saved with: python3 -c \"import torch; torch.save(torch.load('old.pth'), 'new.pth')\".",
                e);
        }
    }

    /// <summary>
    /// Loads <paramref name="path"/> into <paramref name="module"/>. Keys starting with one of
    /// <paramref name="ignoredPrefixes"/> (the ImageNet classifier the trainer replaces) are skipped.
    /// </summary>
    public static void Load(nn.Module module, string path, string architecture, IReadOnlyList<string> ignoredPrefixes)
    {
        var source = Read(path);
        try
        {
            var target = module.state_dict();
            var used = source.Keys.Where(k => !ignoredPrefixes.Any(k.StartsWith)).ToHashSet();
            var missing = target.Keys.Where(k => !used.Contains(k)).ToList();
            var unexpected = used.Where(k => !target.ContainsKey(k)).Order(StringComparer.Ordinal).ToList();
            var wrongShape = target.Keys
                .Where(used.Contains)
                .Where(k => !source[k].shape.SequenceEqual(target[k].shape))
                .Select(k => $"{k} is [{string.Join(", ", source[k].shape)}], expected [{string.Join(", ", target[k].shape)}]")
                .ToList();
            if (missing.Count + unexpected.Count + wrongShape.Count > 0)
            {
                throw new BackboneWeightsException(Mismatch(path, architecture, source.Keys, missing, unexpected, wrongShape));
            }

            using var noGrad = no_grad();
            foreach (var (key, destination) in target)
            {
                using var converted = source[key].to(destination.dtype, destination.device);
                destination.copy_(converted);
            }
        }
        finally
        {
            foreach (var tensor in source.Values)
            {
                tensor.Dispose();
            }
        }
    }

    /// <summary>Which torchvision network a state_dict's keys suggest, or null when they do not say.</summary>
    public static string? Guess(IReadOnlyCollection<string> keys)
    {
        var set = keys.ToHashSet();
        if (set.Contains("Mixed_7c.branch1x1.conv.weight"))
        {
            return "inception_v3";
        }

        int Blocks(string stage) => keys.Where(k => k.StartsWith(stage + '.', StringComparison.Ordinal)).Select(k => k.Split('.')[1]).Distinct().Count();
        if (set.Contains("layer1.0.conv3.weight"))
        {
            return Blocks("layer3") switch { 6 => "resnet50", 23 => "resnet101", 36 => "resnet152", _ => "a bottleneck ResNet" };
        }

        if (set.Contains("layer1.0.conv1.weight"))
        {
            return Blocks("layer3") switch { 2 => "resnet18", 6 => "resnet34", _ => "a basic-block ResNet" };
        }

        if (keys.Any(k => k.StartsWith("features.", StringComparison.Ordinal)))
        {
            return "a VGG, AlexNet, DenseNet, MobileNet or EfficientNet (keys start with 'features.')";
        }

        return null;
    }

    private static string Mismatch(string path, string architecture, IReadOnlyCollection<string> sourceKeys, List<string> missing, List<string> unexpected, List<string> wrongShape)
    {
        var guess = Guess(sourceKeys);
        var parts = new List<string>();
        if (missing.Count > 0)
        {
            parts.Add($"{missing.Count} missing key(s): {Sample(missing)}");
        }

        if (unexpected.Count > 0)
        {
            parts.Add($"{unexpected.Count} unexpected key(s): {Sample(unexpected)}");
        }

        if (wrongShape.Count > 0)
        {
            parts.Add($"{wrongShape.Count} wrong shape(s): {Sample(wrongShape)}");
        }

        var looksLike = guess is not null && guess != architecture ? $" It looks like a {guess} state_dict." : string.Empty;
        return $"'{path}' is not a torchvision {architecture} state_dict: {string.Join("; ", parts)}.{looksLike} " +
            $"Pass the {architecture} weights (see README, 'Other backbones'), or choose the --backbone that matches the file.";
    }

    private static string Sample(List<string> items) =>
        string.Join(", ", items.Take(5)) + (items.Count > 5 ? $", ... ({items.Count - 5} more)" : string.Empty);
}
