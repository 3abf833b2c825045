namespace DogsVsCats.Vision.Shared;

/// <summary>
/// The one "never overwrite" rule of both programs: a path that is taken gets " (2)", " (3)", ... before its extension
/// (<c>cat.1 (2).jpg</c>, <c>snapshot-000012 (2).png</c>), after the whole name for a folder
/// (<c>runs/20261129-130000 (2)</c>), as file managers do.
/// </summary>
public static class FreePath
{
    /// <summary>
    /// <paramref name="path"/> itself when it is free, else the first free "stem (n).ext" beside it. A path is taken
    /// when a file or folder exists there, or when <paramref name="isTaken"/> (names handed out earlier) says so.
    /// </summary>
    public static string ForFile(string path, Func<string, bool>? isTaken = null) =>
        Next(path, Path.GetExtension(path), isTaken);

    /// <summary>Creates a new folder at <paramref name="path"/>, or at its first free "path (n)"; returns the folder made.</summary>
    public static string CreateDirectory(string path)
    {
        // A folder's dots are part of its name: "runs/2026.11" is followed by "runs/2026.11 (2)".
        var free = Next(Path.TrimEndingDirectorySeparator(path), extension: string.Empty, isTaken: null);
        Directory.CreateDirectory(free);
        return free;
    }

    private static string Next(string path, string extension, Func<string, bool>? isTaken)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        bool Taken(string candidate) => File.Exists(candidate) || Directory.Exists(candidate) || (isTaken?.Invoke(candidate) ?? false);
        if (!Taken(path))
        {
            return path;
        }

        var stem = path[..^extension.Length];
        for (var n = 2; ; n++)
        {
            var candidate = $"{stem} ({n}){extension}";
            if (!Taken(candidate))
            {
                return candidate;
            }
        }
    }
}
