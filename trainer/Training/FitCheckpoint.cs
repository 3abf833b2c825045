using System.Text.Json;
using System.Text.Json.Serialization;
using DogsVsCats.Vision.Shared;
using DogsVsCats.Vision.Trainer.Results;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DogsVsCats.Vision.Trainer.Training;

/// <summary>
/// Where a fit stood after its last completed epoch: the epochs so far, the schedule's position (optimizer steps
/// taken), early stopping (best loss, its epoch and evaluation, epochs since) and the time spent in each phase.
/// </summary>
internal sealed record FitState(
    int Epoch,
    int Steps,
    IReadOnlyList<EpochRecord> Epochs,
    double BestLoss,
    int BestEpoch,
    int SinceBest,
    EvaluationResult? Best,
    double TrainSeconds,
    int TrainCount,
    double ValidateSeconds,
    int ValidateCount)
{
    public static FitState Start { get; } = new(0, 0, [], double.PositiveInfinity, 0, 0, null, 0, 0, 0, 0);
}

/// <summary>
/// The checkpoint a fit writes after every epoch and continues from when its folder already holds one
/// (<c>train --resume</c>): the <see cref="FitState"/>, the module's weights but the frozen ones (the pretrained
/// backbone, tens of MB that a new model loads as they were) and the optimizer's state (momentum buffers, rates). One
/// file through the shared durable write: a kill during a save leaves the previous checkpoint whole.
/// </summary>
internal static class FitCheckpoint
{
    public const string FileName = "checkpoint.pt";

    private const string Magic = "DVCFIT1";

    /// <summary>Written last: a file without it was cut short and is refused.</summary>
    private const string End = "END";

    // A diverged epoch has NaN losses and a fit with no finite loss yet has an infinite best: both must round-trip.
    private static readonly JsonSerializerOptions JsonOptions = new() { NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals };

    public static void Save(string path, FitState state, nn.Module module, OptimizerHelper optimizer)
    {
        AtomicFile.Write(path, temp =>
        {
            using var writer = new BinaryWriter(File.Create(temp));
            writer.Write(Magic);
            writer.Write(JsonSerializer.Serialize(state, JsonOptions));
            module.save(writer, [.. module.named_parameters().Where(p => !p.parameter.requires_grad).Select(p => p.name)]);
            optimizer.save_state_dict(writer);
            writer.Write(End);
        });
    }

    /// <summary>
    /// Loads <paramref name="path"/> into <paramref name="module"/> (which holds the pretrained weights) and
    /// <paramref name="optimizer"/>, both built as the fit that saved it built them; returns its state.
    /// </summary>
    public static FitState Load(string path, nn.Module module, OptimizerHelper optimizer)
    {
        try
        {
            using var reader = new BinaryReader(File.OpenRead(path));
            if (reader.ReadString() != Magic)
            {
                throw new InvalidDataException("it is not a training checkpoint");
            }

            var state = JsonSerializer.Deserialize<FitState>(reader.ReadString(), JsonOptions) ?? throw new InvalidDataException("it holds no state");
            module.load(reader, strict: false);   // the frozen weights are not in the file
            optimizer.load_state_dict(reader);
            if (reader.ReadString() != End || reader.BaseStream.Position != reader.BaseStream.Length)
            {
                throw new InvalidDataException("it is cut short or has bytes after its end");
            }

            return state;
        }
        catch (Exception e) when (e is IOException or JsonException or ArgumentException or NotSupportedException)
        {
            throw new InvalidOperationException($"The training checkpoint {path} cannot be read ({e.Message}): delete it to train that strategy again from its first epoch.", e);
        }
    }
}
