using System.Security.Cryptography;
using DogsVsCats.Vision.Realtime.Labelling;
using DogsVsCats.Vision.Tests.Fixtures;
using DogsVsCats.Vision.Trainer.Run;

namespace DogsVsCats.Vision.Tests.Realtime;

/// <summary>
/// A real sorting run killed at each step of a transfer in turn (through <see cref="PhotoSorter.CrashVariable"/>), then
/// run again: every photo ends exactly once at its destination, and labels.csv says where each one is.
/// </summary>
[Trait("Category", "Slow")]
[Collection(RealtimeProcessGroup.Name)]
public sealed class SortCrashRecoveryTests(SmallRunFixture run) : IDisposable
{
    private const int SigKill = 128 + 9;
    private readonly TempDirectory temp = new();

    private string Photos => Path.Combine(temp.Path, "photos");

    private string Out => Path.Combine(temp.Path, "sorted");

    public void Dispose() => temp.Dispose();

    public static IEnumerable<object[]> Steps()
    {
        var data = new TheoryData<TransferStep, string>();
        foreach (var step in Enum.GetValues<TransferStep>())
        {
            data.Add(step, "move");
            data.Add(step, "copy");
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Steps))]
    internal void Sort_KilledAtAStepOfTheSecondTransfer_NoPhotoLostAndTheRerunSortsEachOnceAsTheCsvSays(TransferStep step, string sort)
    {
        // Batch 4 of 6 photos: the kill leaves the second photo mid-transfer, two labelled and unsorted, two unlabelled.
        Directory.CreateDirectory(Photos);
        foreach (var photo in TestData.RealPhotos("cat", 3).Concat(TestData.RealPhotos("dog", 3)))
        {
            File.Copy(photo, Path.Combine(Photos, Path.GetFileName(photo)));
        }

        var originals = Directory.GetFiles(Photos).ToDictionary(p => p, p => Hash(p));
        string[] args = ["--model", Path.Combine(run.RunDirectory, TrainingRun.ModelFile), "--source", Photos, "--sort", sort, "--out", Out, "--batch", "4", "--threads", "1", "--min-confidence", "0"];

        var (code, output, error) = RealtimeProcess.Run(args, new Dictionary<string, string> { [PhotoSorter.CrashVariable] = $"{step}:2" });

        Assert.True(code == SigKill, $"exit {code}, not killed at {step}:\n{output}{error}");
        Assert.Equal(step == TransferStep.AfterCopy, Directory.GetFiles(Out, "*.partial", SearchOption.AllDirectories).Length == 1);
        var afterKill = Directory.GetFiles(Photos).Concat(SortedPhotos(Out)).Select(Hash).ToHashSet();
        Assert.Superset(originals.Values.ToHashSet(), afterKill);

        (code, output, error) = RealtimeProcess.Run(args);

        Assert.True(code == 0, output + error);
        Assert.Equal(sort == "move" ? [] : originals.Keys.Order(), Directory.GetFiles(Photos).Order());
        var sorted = SortedPhotos(Out).ToList();
        Assert.Equal(originals.Values.Order(), sorted.Select(Hash).Order());
        Assert.Empty(Directory.GetFiles(Out, ".*", SearchOption.AllDirectories));   // no partial copy, no journal
        var rows = LabelsCsv.Read(Path.Combine(Out, "labels.csv"), ["cat", "dog"]);
        Assert.Equal(originals.Keys.Order(), rows.Keys.Order());
        Assert.All(rows, r => Assert.Equal("", r.Value[7]));
        Assert.Equal(sorted.Order(), rows.Values.Select(r => r[8]).Order());
        Assert.All(rows, r => Assert.Equal(originals[r.Key], Hash(r.Value[8])));
    }

    private static IEnumerable<string> SortedPhotos(string root) =>
        Directory.GetFiles(root, "*.jpg", SearchOption.AllDirectories).Where(f => !PhotoSorter.IsPartial(f));

    private static string Hash(string path) => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path)));
}
