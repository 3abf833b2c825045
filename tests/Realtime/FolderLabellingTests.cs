using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using DogsVsCats.Vision.Realtime.Inference;
using DogsVsCats.Vision.Realtime.Labelling;
using DogsVsCats.Vision.Shared;
using DogsVsCats.Vision.Tests.Fixtures;
using DogsVsCats.Vision.Trainer.Run;
using Microsoft.Extensions.Logging.Abstractions;
using OpenCvSharp;

namespace DogsVsCats.Vision.Tests.Realtime;

/// <summary>The realtime app on a folder of real photos and real bad files, with the small training run's model.</summary>
[Trait("Category", "Slow")]
[Collection(RealtimeProcessGroup.Name)]
public sealed class FolderLabellingTests(SmallRunFixture run) : IDisposable
{
    private const int PerClass = 10;
    private readonly TempDirectory temp = new();

    private string ModelPath => Path.Combine(run.RunDirectory, TrainingRun.ModelFile);

    private string Photos => Path.Combine(temp.Path, "photos");

    private string Out => Path.Combine(temp.Path, "sorted");

    public void Dispose() => temp.Dispose();

    [Fact]
    public void Label_RealPhotosAndBadFiles_CsvListsEveryFileWithPredictionOrReason()
    {
        var bad = MakeFolder(withBadFiles: true);

        var jsonl = Path.Combine(temp.Path, "labels.jsonl");
        var (code, output, error) = Realtime("--csv", Path.Combine(temp.Path, "labels.csv"), "--jsonl", jsonl);

        Assert.True(code == 0, output + error);
        var lines = File.ReadAllLines(Path.Combine(temp.Path, "labels.csv"));
        // One prediction feeds every output: the JSON lines say what the CSV says.
        var objects = File.ReadAllLines(jsonl).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(lines.Skip(1).Select(l => (LabelsCsv.Split(l)![0], LabelsCsv.Split(l)![1])), objects.Select(o => (o.GetProperty("path").GetString()!, o.GetProperty("label").GetString()!)));
        Assert.Equal(["path", "label", "confidence", "p_cat", "p_dog", "width", "height", "error", "destination"], LabelsCsv.Split(lines[0]));
        var rows = lines.Skip(1).Select(l => LabelsCsv.Split(l)!).ToDictionary(r => r[0]);
        Assert.Equal((2 * PerClass) + bad.Count, rows.Count);
        var right = 0;
        foreach (var (path, row) in rows.Where(r => !bad.ContainsKey(r.Key)))
        {
            var (pCat, pDog) = (Number(row[3]), Number(row[4]));
            Assert.True(Math.Abs(pCat + pDog - 1) < 1e-4, $"{path}: probabilities sum to {pCat + pDog}");
            Assert.Equal(Math.Max(pCat, pDog), Number(row[2]), 5);
            using var image = Cv2.ImRead(path);
            Assert.Equal((image.Width, image.Height), (int.Parse(row[5], CultureInfo.InvariantCulture), int.Parse(row[6], CultureInfo.InvariantCulture)));
            Assert.Equal("", row[7]);
            right += row[1] == Path.GetFileName(Path.GetDirectoryName(path)) ? 1 : 0;
        }

        Assert.True(right >= 15, $"only {right} of {2 * PerClass} photos labelled right");
        foreach (var (path, reason) in bad)
        {
            Assert.Equal("", rows[path][1]);
            Assert.Contains(reason, rows[path][7], StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Label_SmallBatchesWithBadFilesAmongThePhotos_EachRowHasItsOwnPhotosPrediction()
    {
        // Chunk k + 1 is decoded while chunk k runs, into blocks that take turns, and bad files leave gaps that are closed
        // before the run: batches of 3 over photos with bad files between them make every one of those paths happen.
        TestData.CopyClassFolders(Photos, PerClass);
        var photos = Directory.GetFiles(Photos, "*.jpg", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToList();
        foreach (var (name, i) in new[] { ("cat", 1), ("cat", 5), ("dog", 2) })
        {
            File.WriteAllBytes(Path.Combine(Photos, name, $"{name}.{i}.bad.jpg"), "not a photo"u8.ToArray());
        }

        var jsonl = Path.Combine(temp.Path, "labels.jsonl");
        var (code, output, error) = Realtime("--csv", Path.Combine(temp.Path, "labels.csv"), "--jsonl", jsonl, "--batch", "3");

        Assert.True(code == 0, output + error);
        var lines = File.ReadAllLines(jsonl).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(photos.Count + 3, lines.Count);
        Assert.Equal(Directory.GetFiles(Photos, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal), lines.Select(l => l.GetProperty("path").GetString()));
        using var classifier = new Classifier(ModelPath, InferenceDevice.Cpu, 0, NullLogger.Instance);
        foreach (var line in lines)
        {
            var path = line.GetProperty("path").GetString()!;
            if (path.EndsWith(".bad.jpg", StringComparison.Ordinal))
            {
                Assert.Contains("not an image or corrupt", line.GetProperty("error").GetString(), StringComparison.Ordinal);
                continue;
            }

            using var image = Cv2.ImRead(path);
            var alone = classifier.Classify([image])[0];
            var probabilities = line.GetProperty("probabilities");
            Assert.All(alone.Labels.Select((label, c) => (label, c)), x => Assert.Equal(alone.Probabilities[x.c], probabilities.GetProperty(x.label).GetSingle(), 4));
            Assert.Equal((image.Width, image.Height), (line.GetProperty("width").GetInt32(), line.GetProperty("height").GetInt32()));
            Assert.InRange(line.GetProperty("timings_ms").GetProperty("batch").GetInt32(), 1, 3);
        }
    }

    [Fact]
    public void Sort_Copy_PhotosInLabelFoldersSourcesUntouchedCollisionsRenamed()
    {
        MakeFolder(withBadFiles: false);
        var before = RealtimeProcess.HashFiles(Photos);
        // A file already in the target with a photo's name must survive, and the photo gets "name (2).jpg".
        var firstCat = Directory.GetFiles(Path.Combine(Photos, "cat")).Order(StringComparer.Ordinal).First();
        Directory.CreateDirectory(Path.Combine(Out, "cat"));
        var squatter = Path.Combine(Out, "cat", Path.GetFileName(firstCat));
        File.WriteAllText(squatter, "not the photo");

        var (code, output, error) = Realtime("--sort", "copy", "--out", Out, "--min-confidence", "0");

        Assert.True(code == 0, output + error);
        Assert.Equal(before.Keys.Order(), RealtimeProcess.HashFiles(Photos).Keys.Order());
        Assert.Equal("not the photo", File.ReadAllText(squatter));
        var sorted = RealtimeProcess.HashFiles(Out, f => Path.GetExtension(f) == ".jpg" && f != squatter);
        Assert.Equal(before.Keys.Order(), sorted.Keys.Order());
        Assert.All(sorted.Values, paths => Assert.Single(paths));
        Assert.True(File.Exists(Path.Combine(Out, "cat", Path.GetFileNameWithoutExtension(firstCat) + " (2).jpg")) || File.Exists(Path.Combine(Out, "dog", Path.GetFileName(firstCat))));
        var rows = File.ReadAllLines(Path.Combine(Out, "labels.csv")).Skip(1).Select(l => LabelsCsv.Split(l)!).ToList();
        Assert.All(rows, r => Assert.Equal(Path.Combine(Out, r[1]), Path.GetDirectoryName(r[8])));
    }

    [Fact]
    public void Sort_MoveBelowMinConfidence_UncertainFolderAndEveryPhotoOnce()
    {
        var bad = MakeFolder(withBadFiles: true);
        var before = RealtimeProcess.HashFiles(Photos, f => !bad.ContainsKey(f));

        // 1 puts every photo the model is not certain of below the bar (the run's temperature may sharpen its
        // probabilities past 0.999), so uncertain/ is exercised for real.
        var (code, output, error) = Realtime("--sort", "move", "--out", Out, "--min-confidence", "1");

        Assert.True(code == 0, output + error);
        var after = RealtimeProcess.HashFiles(Out, f => Path.GetExtension(f) == ".jpg");
        Assert.Equal(before.Keys.Order(), after.Keys.Order());
        Assert.All(after.Values, paths => Assert.Single(paths));
        Assert.NotEmpty(Directory.GetFiles(Path.Combine(Out, "uncertain")));
        // Unreadable files are listed, never moved; nothing else is left behind.
        Assert.Equal(bad.Keys.Order(), Directory.GetFiles(Photos, "*", SearchOption.AllDirectories).Order());
        Assert.False(File.Exists(Path.Combine(Out, PhotoSorter.JournalName)));
    }

    [Fact]
    public void Sort_DryRun_TouchesNothing()
    {
        MakeFolder(withBadFiles: true);
        var before = Snapshot(temp.Path);

        var (code, output, error) = Realtime("--sort", "move", "--out", Out, "--dry-run");

        Assert.True(code == 0, output + error);
        Assert.Contains("would move", output, StringComparison.Ordinal);
        Assert.Equal(before, Snapshot(temp.Path));
        Assert.False(Directory.Exists(Out));
    }

    [Fact]
    public void Label_Rerun_SkipsWhatLabelsCsvRecords()
    {
        MakeFolder(withBadFiles: true);
        var csv = Path.Combine(temp.Path, "labels.csv");
        Assert.Equal(0, Realtime("--csv", csv).Code);
        var first = File.ReadAllLines(csv);
        File.Copy(TestData.RealPhotos("dog", PerClass + 1)[^1], Path.Combine(Photos, "dog", "new.jpg"));

        var (code, output, _) = Realtime("--csv", csv);

        Assert.Equal(0, code);
        var second = File.ReadAllLines(csv);
        Assert.Equal(first, second.Take(first.Length));
        Assert.Single(second.Skip(first.Length));
        Assert.StartsWith(Path.Combine(Photos, "dog", "new.jpg") + ",", second[^1], StringComparison.Ordinal);
        Assert.Contains("1 to label", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Sort_CopyRerunWithOddFileNames_NothingLabelledOrCopiedTwice()
    {
        // Legal Linux names that CSV must quote; labels.csv has to read each back, or a rerun sorts it again ("name (2).jpg").
        string[] names = ["new\nline.jpg", "comma, in it.jpg", "say \"cheese\".jpg", " leading space.jpg", "chat-é-猫.jpg"];
        Directory.CreateDirectory(Photos);
        var photos = TestData.RealPhotos("cat", names.Length);
        for (var i = 0; i < names.Length; i++)
        {
            File.Copy(photos[i], Path.Combine(Photos, names[i]));
        }

        var (code, output, error) = Realtime("--sort", "copy", "--out", Out, "--min-confidence", "0");
        Assert.True(code == 0, output + error);
        var csv = File.ReadAllBytes(Path.Combine(Out, "labels.csv"));

        (code, output, error) = Realtime("--sort", "copy", "--out", Out, "--min-confidence", "0");

        Assert.True(code == 0, output + error);
        Assert.Contains($"{names.Length} already in", output, StringComparison.Ordinal);
        Assert.Contains("0 to label", output, StringComparison.Ordinal);
        Assert.Equal(csv, File.ReadAllBytes(Path.Combine(Out, "labels.csv")));
        Assert.Equal(names.Order(StringComparer.Ordinal), Directory.GetFiles(Out, "*.jpg", SearchOption.AllDirectories).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Sort_MoveKilledMidway_NoPhotoLostAndRerunFinishesWithoutDuplicates()
    {
        const int perClass = 30;
        Directory.CreateDirectory(Photos);
        foreach (var className in new[] { "cat", "dog" })
        {
            foreach (var photo in TestData.RealPhotos(className, perClass))
            {
                File.Copy(photo, Path.Combine(Photos, Path.GetFileName(photo)));
            }
        }

        var originals = RealtimeProcess.HashFiles(Photos);
        var args = new[] { "--model", ModelPath, "--source", Photos, "--sort", "move", "--out", Out, "--batch", "2", "--threads", "1" };
        using (var process = Process.Start(RealtimeProcess.StartInfo(args))!)
        {
            process.OutputDataReceived += (_, _) => { };
            process.ErrorDataReceived += (_, _) => { };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            var clock = Stopwatch.StartNew();
            while (Moved() < 6 && !process.HasExited && clock.Elapsed < TimeSpan.FromSeconds(60))
            {
                Thread.Sleep(5);
            }

            Assert.False(process.HasExited, $"the run ended (exit {(process.HasExited ? process.ExitCode : 0)}) before it could be killed");
            process.Kill();   // SIGKILL on Unix: no cleanup runs
            process.WaitForExit();
        }

        var moved = Moved();
        Assert.InRange(moved, 6, (2 * perClass) - 1);
        var afterKill = Merge(RealtimeProcess.HashFiles(Photos), RealtimeProcess.HashFiles(Out, IsPhoto));
        Assert.Equal(originals.Keys.Order(), afterKill.Keys.Order());

        var (code, output, error) = RealtimeProcess.Run(args);

        Assert.True(code == 0, output + error);
        Assert.Empty(Directory.GetFiles(Photos, "*", SearchOption.AllDirectories));
        var final = RealtimeProcess.HashFiles(Out, IsPhoto);
        Assert.Equal(originals.Keys.Order(), final.Keys.Order());
        Assert.All(final.Values, paths => Assert.Single(paths));
        Assert.Empty(Directory.GetFiles(Out, "*.partial", SearchOption.AllDirectories));
        // One row per photo: the rerun labelled only what the killed run had not recorded.
        var rows = File.ReadAllLines(Path.Combine(Out, "labels.csv")).Skip(1).Select(LabelsCsv.Split).Where(r => r?.Count == 9).Select(r => r![0]).ToList();
        Assert.Equal(2 * perClass, rows.Count);
        Assert.Equal(2 * perClass, rows.Distinct().Count());

        int Moved() => Directory.Exists(Out) ? Directory.GetFiles(Out, "*.jpg", SearchOption.AllDirectories).Count(IsPhoto) : 0;
    }

    [Fact]
    public void Sort_MovePhotoGoneAfterItWasLabelled_NamedInWarningAndCsvTheRestSortedExitIncompleteRerunRetries()
    {
        MakeFolder(withBadFiles: false);
        // A second name for the first cat photo, labelled with it in one batch: once the photo is moved, this name points
        // at nothing, so its photo has vanished between its labelling and its move, as a deleted photo's would.
        var target = Directory.GetFiles(Path.Combine(Photos, "cat")).Order(StringComparer.Ordinal).First();
        var alias = Path.Combine(Photos, "cat", "zz-alias.jpg");
        File.CreateSymbolicLink(alias, target);
        var others = RealtimeProcess.HashFiles(Photos, f => f != alias);

        var (code, output, error) = Realtime("--sort", "move", "--out", Out, "--min-confidence", "0", "--batch", "32");

        Assert.True(code == ExitCodes.Incomplete, output + error);
        Assert.Contains($"{alias}: not sorted:", output, StringComparison.Ordinal);
        Assert.Contains("1 photos could not be sorted", output, StringComparison.Ordinal);
        Assert.Equal([alias], Directory.GetFiles(Photos, "*", SearchOption.AllDirectories));
        var sorted = RealtimeProcess.HashFiles(Out, IsPhoto);
        Assert.Equal(others.Keys.Order(), sorted.Keys.Order());
        var rows = LabelsCsv.Read(Path.Combine(Out, "labels.csv"), ["cat", "dog"]);
        Assert.StartsWith("not sorted:", rows[alias][7], StringComparison.Ordinal);
        Assert.All(rows.Where(r => r.Key != alias), r => Assert.Equal("", r.Value[7]));

        // The photo is back (a share that returned): the rerun sorts it and its row says where, with no error.
        File.Delete(alias);
        File.Copy(TestData.RealPhotos("cat", PerClass + 1)[^1], alias);
        var back = RealtimeProcess.HashFiles(Photos).Keys.Single();

        (code, output, error) = Realtime("--sort", "move", "--out", Out, "--min-confidence", "0");

        Assert.True(code == ExitCodes.Ok, output + error);
        Assert.Empty(Directory.GetFiles(Photos, "*", SearchOption.AllDirectories));
        var row = LabelsCsv.Read(Path.Combine(Out, "labels.csv"), ["cat", "dog"])[alias];
        Assert.Equal("", row[7]);
        Assert.Equal(back, RealtimeProcess.HashFiles(Out, f => f == row[8]).Keys.Single());
    }

    [Fact]
    public void Sort_CopyRerunWhenAnotherFileTookADestination_CopiesToAFreeNameAndTheCsvPointsAtIt()
    {
        MakeFolder(withBadFiles: false);
        var (code, output, error) = Realtime("--sort", "copy", "--out", Out, "--min-confidence", "0");
        Assert.True(code == 0, output + error);
        var csv = Path.Combine(Out, "labels.csv");
        var photo = Directory.GetFiles(Path.Combine(Photos, "dog")).Order(StringComparer.Ordinal).First();
        var first = LabelsCsv.Read(csv, ["cat", "dog"])[photo];
        var taken = first[8];
        // Between the runs another photo took the copy's name.
        File.Delete(taken);
        File.Copy(TestData.RealPhotos("cat", PerClass + 1)[^1], taken);
        var squatter = File.ReadAllBytes(taken);

        (code, output, error) = Realtime("--sort", "copy", "--out", Out, "--min-confidence", "0");

        Assert.True(code == 0, output + error);
        Assert.Equal(squatter, File.ReadAllBytes(taken));
        var rows = LabelsCsv.Read(csv, ["cat", "dog"]);
        Assert.NotEqual(taken, rows[photo][8]);
        Assert.Equal(File.ReadAllBytes(photo), File.ReadAllBytes(rows[photo][8]));
        Assert.All(rows, r => Assert.Equal(File.ReadAllBytes(r.Key), File.ReadAllBytes(r.Value[8])));
        Assert.Equal(first.Take(8), rows[photo].Take(8));   // the new row keeps the photo's prediction
    }

    private static bool IsPhoto(string path) => Path.GetExtension(path) == ".jpg" && !PhotoSorter.IsPartial(path);

    private static Dictionary<string, List<string>> Merge(Dictionary<string, List<string>> a, Dictionary<string, List<string>> b)
    {
        foreach (var (hash, paths) in b)
        {
            a[hash] = [.. a.GetValueOrDefault(hash) ?? [], .. paths];
        }

        return a;
    }

    private static double Number(string text) => double.Parse(text, CultureInfo.InvariantCulture);

    private static SortedDictionary<string, (long, DateTime)> Snapshot(string root) =>
        new(Directory.EnumerateFileSystemEntries(root, "*", SearchOption.AllDirectories)
            .ToDictionary(p => p, p => File.Exists(p) ? (new FileInfo(p).Length, File.GetLastWriteTimeUtc(p)) : (-1L, Directory.GetLastWriteTimeUtc(p))), StringComparer.Ordinal);

    private (int Code, string Output, string Error) Realtime(params string[] args) =>
        RealtimeProcess.Run(["--model", ModelPath, "--source", Photos, .. args]);

    /// <summary>Photos/cat and photos/dog with real photos; optionally real bad files, by path with the reason they must get.</summary>
    private Dictionary<string, string> MakeFolder(bool withBadFiles)
    {
        TestData.CopyClassFolders(Photos, PerClass);
        var bad = new Dictionary<string, string>();
        if (withBadFiles)
        {
            var photo = File.ReadAllBytes(TestData.RealPhotos("cat", 1)[0]);
            var folder = Path.Combine(Photos, "mixed");
            Directory.CreateDirectory(folder);
            void Add(string name, byte[] bytes, string reason)
            {
                File.WriteAllBytes(Path.Combine(folder, name), bytes);
                bad[Path.Combine(folder, name)] = reason;
            }

            Add("zero.jpg", [], "empty file");
            Add("truncated.jpg", photo[..(photo.Length / 2)], "truncated JPEG");
            Add("text.jpg", "hello, not a photo"u8.ToArray(), "not an image or corrupt");
            Add("notes.txt", "a note"u8.ToArray(), "not an image file");
        }

        return bad;
    }
}
