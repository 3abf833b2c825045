using System.Text.Json;
using DogsVsCats.Vision.Shared;
using Microsoft.Extensions.Logging;

namespace DogsVsCats.Vision.Realtime.Labelling;

/// <summary>
/// Copies or moves photos into Out/&lt;label&gt;/ so that nothing is ever lost or overwritten, even under kill -9:
/// each transfer is written to a journal (and forced to disk) first; the photo is copied to a hidden temporary name in
/// the target folder, forced to disk and renamed (a rename is atomic and never replaces a file); only then is the
/// source deleted. <see cref="Recover"/> finishes or undoes whatever the journal shows was in flight.
/// </summary>
public sealed class PhotoSorter : IDisposable
{
    public const string JournalName = ".realtime-journal.jsonl";
    private const string PartialSuffix = ".partial";

    private readonly string root;
    private readonly bool move;
    private readonly ILogger logger;
    private readonly HashSet<string> planned = new(StringComparer.Ordinal);
    private FileStream? journal;
    private bool inFlight;

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

    /// <summary>Copies (or moves) <paramref name="source"/> to <paramref name="destination"/>, which must not exist.</summary>
    public void Transfer(string source, string destination)
    {
        var folder = Path.GetDirectoryName(destination)!;
        Directory.CreateDirectory(folder);
        var partial = Path.Combine(folder, $".{Path.GetFileName(destination)}.{Guid.NewGuid():N}{PartialSuffix}");
        Write(new JournalEntry("begin", move, source, partial, destination));
        inFlight = true;
        File.Copy(source, partial);
        using (var written = new FileStream(partial, FileMode.Open, FileAccess.ReadWrite))
        {
            written.Flush(flushToDisk: true);
        }

        File.Move(partial, destination, overwrite: false);
        if (move)
        {
            File.Delete(source);
        }

        Write(new JournalEntry("end", move, source, partial, destination));
        inFlight = false;
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
            else if (entry.Move && File.Exists(entry.Destination) && File.Exists(entry.Source) && new FileInfo(entry.Destination).Length == new FileInfo(entry.Source).Length)
            {
                File.Delete(entry.Source);
                logger.LogInformation("Recovered an interrupted move: {Source} is in {Destination}.", entry.Source, entry.Destination);
            }
        }

        File.Delete(JournalPath);
    }

    public void Dispose()
    {
        journal?.Dispose();
        // A journal whose every transfer ended says nothing a rerun needs; one that failed mid-transfer is kept for Recover.
        if (journal is not null && !inFlight)
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
        }

        journal.Write(JsonSerializer.SerializeToUtf8Bytes(entry));
        journal.WriteByte((byte)'\n');
        journal.Flush(flushToDisk: true);
    }

    private sealed record JournalEntry(string Step, bool Move, string Source, string Partial, string Destination);
}
