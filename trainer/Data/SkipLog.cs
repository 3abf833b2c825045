namespace DogsVsCats.Vision.Trainer.Data;

/// <summary>
/// The files left out of a run, each once, in the order they were found: by the check before training, or by a pass
/// that could no longer read a photo (deleted or cut short after the check). Safe to add to from decoding threads.
/// </summary>
internal sealed class SkipLog(Action<SkippedFile>? onSkipped = null)
{
    private readonly Lock gate = new();
    private readonly List<SkippedFile> files = [];
    private readonly HashSet<string> paths = new(StringComparer.Ordinal);

    public int Count
    {
        get
        {
            lock (gate)
            {
                return files.Count;
            }
        }
    }

    /// <summary>A snapshot of the files skipped so far.</summary>
    public IReadOnlyList<SkippedFile> Files
    {
        get
        {
            lock (gate)
            {
                return [.. files];
            }
        }
    }

    /// <summary>
    /// Records <paramref name="file"/> and tells <c>onSkipped</c> (calls are serialised, so it may write to a console);
    /// a path already recorded, e.g. unreadable again in a later epoch, is neither counted nor reported twice.
    /// </summary>
    public bool Add(SkippedFile file)
    {
        lock (gate)
        {
            if (!paths.Add(file.Path))
            {
                return false;
            }

            files.Add(file);
            onSkipped?.Invoke(file);
            return true;
        }
    }
}
