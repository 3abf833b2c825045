using System.Diagnostics;
using System.Text.Json;
using DogsVsCats.Vision.Shared;
using Microsoft.Extensions.Logging;

namespace DogsVsCats.Vision.Realtime.Labelling;

/// <summary>
/// Copies or moves photos into Out/&lt;label&gt;/ so that nothing is ever lost or overwritten, even under kill -9:
/// each transfer is written to a journal (and forced to disk) first; the photo is copied to a hidden temporary name in
/// the target folder and put in place by the shared durable write (<see cref="AtomicFile"/>: flushed, renamed, folder
/// flushed; a rename never replaces a file here); only then is the source deleted. <see cref="Recover"/> finishes or
/// undoes whatever the journal shows was in flight.
/// </summary>
internal sealed class PhotoSorter : IDisposable
{
    public const string JournalName = ".realtime-journal.jsonl";

    /// <summary>
    /// Test-only seam: "&lt;step&gt;:&lt;n&gt;" (a <see cref="TransferStep"/> name and a count from 1) kills the process, as
    /// kill -9 would, at that step of its n-th transfer, so the recovery tests can stop a real run at each step in turn.
    /// Read once per sorter; nothing but a test sets it.
    /// </summary>
    public const string CrashVariable = "DOGSVSCATS_TEST_CRASH_AT";

    private const string PartialSuffix = ".partial";

    private readonly string root;
    private readonly bool move;
    private readonly ILogger logger;
    private readonly HashSet<string> planned = new(StringComparer.Ordinal);
    private readonly (TransferStep Step, int Transfer)? crashAt = CrashPoint(Environment.GetEnvironmentVariable(CrashVariable));
    private FileStream? journal;
    private int transfers;
    private int unsettled;

    public PhotoSorter(string root, bool move, ILogger logger)
    {
        this.root = Path.GetFullPath(root);
        this.move = move;
        this.logger = logger;
    }

    public string JournalPath => Path.Combine(root, JournalName);

    public static bool IsPartial(string path) => Path.GetFileName(path).StartsWith('.') && path.EndsWith(PartialSuffix, StringComparison.Ordinal);

    /// <summary>
    /// A free name for <paramref name="source"/> in Out/<paramref name="label"/>/: its own name, else "name (2).ext",
    /// "name (3).ext", ... Names handed out earlier in this run count as taken.
    /// </summary>
    public string Plan(string source, string label)
    {
        if (label.Length == 0 || label is "." or ".." || label.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0)
        {
            // Labels come from the model file; one that is not a plain folder name must not steer files elsewhere.
            throw new InvalidOperationException($"Label '{label}' cannot be a folder name; re-export the model with plain class names.");
        }

        var candidate = FreePath.ForFile(Path.Combine(root, label, Path.GetFileName(source)), planned.Contains);
        planned.Add(candidate);
        return candidate;
    }

    /// <summary>
    /// Copies (or moves) <paramref name="source"/> to <paramref name="destination"/>, which must not exist. A failure
    /// leaves the journal entry open, so the next run's <see cref="Recover"/> settles whatever the failure left.
    /// </summary>
    public void Transfer(string source, string destination)
    {
        transfers++;
        var folder = Path.GetDirectoryName(destination)!;
        if (!Directory.Exists(folder))
        {
            Directory.CreateDirectory(folder);
            AtomicFile.FlushFolder(root);   // the label folder's own entry, or a power loss could take the photos in it along
        }

        var partial = Path.Combine(folder, $".{Path.GetFileName(destination)}.{Guid.NewGuid():N}{PartialSuffix}");
        Reach(TransferStep.BeforeBegin);
        Write(new JournalEntry("begin", move, source, partial, destination));
        unsettled++;
        Reach(TransferStep.AfterBegin);
        AtomicFile.Write(destination, partial, temp =>
        {
            File.Copy(source, temp);
            Reach(TransferStep.AfterCopy);
        }, overwrite: false);
        Reach(TransferStep.AfterRename);
        if (move)
        {
            File.Delete(source);
            // Before the journal says "end": a deletion lost to a power loss after it would bring back a second copy.
            AtomicFile.FlushFolder(Path.GetDirectoryName(Path.GetFullPath(source))!);
        }

        Reach(TransferStep.BeforeEnd);
        Write(new JournalEntry("end", move, source, partial, destination));
        unsettled--;
    }

    /// <summary>Whether two files hold the same bytes: sizes first, then the content, up to the first difference.</summary>
    public static bool SameBytes(string a, string b)
    {
        if (new FileInfo(a).Length != new FileInfo(b).Length)
        {
            return false;
        }

        using var first = File.OpenRead(a);
        using var second = File.OpenRead(b);
        var left = new byte[1 << 16];
        var right = new byte[1 << 16];
        int read;
        while ((read = first.ReadAtLeast(left, left.Length, throwOnEndOfStream: false)) > 0)
        {
            if (second.ReadAtLeast(right, read, throwOnEndOfStream: false) != read || !left.AsSpan(0, read).SequenceEqual(right.AsSpan(0, read)))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// Settles transfers an earlier run left half done: a partial copy is deleted and its source, still in place, is sorted
    /// again; a renamed copy means the copy is complete, so a move deletes its source.
    /// </summary>
    public void Recover()
    {
        if (!File.Exists(JournalPath))
        {
            return;
        }

        var open = new Dictionary<string, JournalEntry>(StringComparer.Ordinal);
        foreach (var line in File.ReadLines(JournalPath))
        {
            JournalEntry? entry;
            try
            {
                entry = JsonSerializer.Deserialize<JournalEntry>(line);
            }
            catch (JsonException)
            {
                continue;   // the last line of a killed run may be cut short; its step had not started
            }

            if (entry is { Step: "begin" })
            {
                open[entry.Source] = entry;
            }
            else if (entry is not null)
            {
                open.Remove(entry.Source);
            }
        }

        foreach (var entry in open.Values)
        {
            // The rename turns the partial copy into the destination, so a partial copy still there means the rename never
            // happened, whatever holds the destination name: the source stays and is sorted again.
            if (File.Exists(entry.Partial))
            {
                File.Delete(entry.Partial);
                logger.LogInformation("Undid an interrupted copy of {Source} (deleted its partial copy).", entry.Source);
            }
            else if (entry.Move && File.Exists(entry.Destination) && File.Exists(entry.Source) && SameBytes(entry.Source, entry.Destination))
            {
                // Same bytes, not only the same size: a file of the photo's size that took the name is not its copy.
                File.Delete(entry.Source);
                AtomicFile.FlushFolder(Path.GetDirectoryName(Path.GetFullPath(entry.Source))!);
                logger.LogInformation("Recovered an interrupted move: {Source} is in {Destination}.", entry.Source, entry.Destination);
            }
        }

        File.Delete(JournalPath);
    }

    public void Dispose()
    {
        journal?.Dispose();
        // A journal whose every transfer ended says nothing a rerun needs; one with a failed transfer is kept for Recover.
        if (journal is not null && unsettled == 0)
        {
            File.Delete(JournalPath);
        }
    }

    private void Write(JournalEntry entry)
    {
        if (journal is null)
        {
            Directory.CreateDirectory(root);
            journal = new FileStream(JournalPath, FileMode.Append, FileAccess.Write, FileShare.Read);
            AtomicFile.FlushFolder(root);   // the journal's own entry, or its flushed lines could be lost with it
        }

        journal.Write(JsonSerializer.SerializeToUtf8Bytes(entry));
        journal.WriteByte((byte)'\n');
        journal.Flush(flushToDisk: true);
    }

    private static (TransferStep, int)? CrashPoint(string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return null;
        }

        var parts = value.Split(':');
        if (parts.Length != 2 || !Enum.TryParse<TransferStep>(parts[0], out var step) || !int.TryParse(parts[1], out var transfer) || transfer < 1)
        {
            throw new InvalidOperationException($"{CrashVariable}='{value}' is not '<step>:<n>' ({string.Join(", ", Enum.GetNames<TransferStep>())}); it is a test seam, unset it.");
        }

        return (step, transfer);
    }

    private void Reach(TransferStep step)
    {
        if (crashAt == (step, transfers))
        {
            using var self = Process.GetCurrentProcess();
            self.Kill();
        }
    }

    private sealed record JournalEntry(string Step, bool Move, string Source, string Partial, string Destination);
}
