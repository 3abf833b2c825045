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
public sealed record FitState(
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
/// (<c>train --resume</c>): the <see cref="FitState"/>, the module's weights, the optimizer's state (momentum buffers,
/// rates) and the best epoch's weights, a copy of best.pt, so the two can never disagree after a kill between their
/// writes. One file through the shared durable write: a kill during a save leaves the previous checkpoint whole.
/// </summary>
public static class FitCheckpoint
{
    public const string FileName = "checkpoint.pt";

    private const string Magic = "DVCFIT1";

    /// <summary>Written last: a file without it was cut short and is refused.</summary>
    private const string End = "END";

    // A diverged epoch has NaN losses and a fit with no finite loss yet has an infinite best: both must round-trip.
    private static readonly JsonSerializerOptions JsonOptions = new() { NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals };

    public static void Save(string path, FitState state, nn.Module module, OptimizerHelper optimizer, string bestWeights)
    {
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(optimizer);
        AtomicFile.Write(path, temp =>
        {
            using var writer = new BinaryWriter(File.Create(temp));
            writer.Write(Magic);
            writer.Write(JsonSerializer.Serialize(state, JsonOptions));
            module.save(writer);
            optimizer.save_state_dict(writer);
            // No best.pt before the first finite validation loss.
            var best = state.Best is null ? null : File.ReadAllBytes(bestWeights);
            writer.Write(best?.Length ?? -1);
            writer.Write(best ?? []);
            writer.Write(End);
        });
    }

    /// <summary>
    /// Loads <paramref name="path"/> into <paramref name="module"/> and <paramref name="optimizer"/> (built as the
    /// fit that saved it built them), writes its best weights back to <paramref name="bestWeights"/> and returns its state.
    /// </summary>
    public static FitState Load(string path, nn.Module module, OptimizerHelper optimizer, string bestWeights)
    {
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(optimizer);
        try
        {
            using var reader = new BinaryReader(File.OpenRead(path));
            if (reader.ReadString() != Magic)
            {
                throw new InvalidDataException("it is not a training checkpoint");
            }

            var state = JsonSerializer.Deserialize<FitState>(reader.ReadString(), JsonOptions) ?? throw new InvalidDataException("it holds no state");
            module.load(reader);
            optimizer.load_state_dict(reader);
            var length = reader.ReadInt32();
            var best = length < 0 ? null : reader.ReadBytes(length);
            if ((best is not null && best.Length != length) || reader.ReadString() != End || reader.BaseStream.Position != reader.BaseStream.Length)
            {
                throw new InvalidDataException("it is cut short or has bytes after its end");
            }

            if (best is not null)
            {
                AtomicFile.WriteAllBytes(bestWeights, best);
            }

            return state;
        }
        catch (Exception e) when (e is IOException or JsonException or ArgumentException or NotSupportedException)
        {
            throw new InvalidOperationException($"The training checkpoint {path} cannot be read ({e.Message}): delete it to train that strategy again from its first epoch.", e);
        }
    }
}
