using System.Text;

namespace DogsVsCats.Vision.Shared;

/// <summary>Writes a file through a temp file beside it and a rename, so no reader ever sees half a file.</summary>
public static class AtomicFile
{
    /// <summary>
    /// <paramref name="writeTemp"/> writes the whole content to the path it is given; that file then replaces
    /// <paramref name="path"/> (or, with <paramref name="overwrite"/> false, fails if it exists). The temp file is
    /// removed whatever happens.
    /// </summary>
    public static void Write(string path, Action<string> writeTemp, bool overwrite = true)
    {
        var full = Path.GetFullPath(path);
        var temp = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.{Environment.ProcessId}.tmp");
        try
        {
            writeTemp(temp);
            File.Move(temp, full, overwrite);
        }
        finally
        {
            File.Delete(temp);
        }
    }

    public static void WriteAllBytes(string path, byte[] bytes) => Write(path, temp => File.WriteAllBytes(temp, bytes));

    public static void WriteAllText(string path, string text) => WriteAllBytes(path, new UTF8Encoding(false).GetBytes(text));
}
