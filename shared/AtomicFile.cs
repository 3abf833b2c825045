using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;

namespace DogsVsCats.Vision.Shared;

/// <summary>
/// The one durable write of every program: the content goes to a temp file beside the target, which is forced to disk,
/// renamed onto the target, and the folder is forced to disk. A rename is atomic, so no reader ever sees half a file;
/// the two flushes make it hold across a power loss too (without the first, the renamed file can come back empty;
/// without the second, the rename itself can be lost).
/// </summary>
public static partial class AtomicFile
{
    private const int ReadOnly = 0;   // open(2)'s O_RDONLY, the same value on every Unix

    private const string TempSuffix = "tmp";

    /// <summary>
    /// <paramref name="writeTemp"/> writes the whole content to the path it is given; that file then replaces
    /// <paramref name="path"/> (or, with <paramref name="overwrite"/> false, fails with an <see cref="IOException"/>
    /// if it exists). The temp file is removed whatever happens.
    /// </summary>
    public static void Write(string path, Action<string> writeTemp, bool overwrite = true)
    {
        var full = Path.GetFullPath(path);
        Write(full, Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.{Environment.ProcessId}.{TempSuffix}"), writeTemp, overwrite);
    }

    /// <summary>
    /// Deletes the temp files that writes into <paramref name="folder"/> left when their process was killed mid-write
    /// (the write's own cleanup never ran); call it only where no other process is writing.
    /// </summary>
    public static void DeleteLeftovers(string folder)
    {
        foreach (var file in Directory.EnumerateFiles(folder, $".*.{TempSuffix}").Where(f => LeftoverName().IsMatch(Path.GetFileName(f))))
        {
            File.Delete(file);
        }
    }

    /// <summary>
    /// As <see cref="Write(string, Action{string}, bool)"/> with a temp name the caller chose (a journal names it before
    /// it exists); it must be in <paramref name="path"/>'s folder, since a rename does not cross file systems.
    /// </summary>
    public static void Write(string path, string temp, Action<string> writeTemp, bool overwrite = true)
    {
        ArgumentNullException.ThrowIfNull(writeTemp);
        var full = Path.GetFullPath(path);
        try
        {
            writeTemp(temp);
            FlushFile(temp);
            File.Move(temp, full, overwrite);
            FlushFolder(Path.GetDirectoryName(full)!);
        }
        finally
        {
            File.Delete(temp);
        }
    }

    public static void WriteAllBytes(string path, byte[] bytes) => Write(path, temp => File.WriteAllBytes(temp, bytes));

    public static void WriteAllText(string path, string text) => WriteAllBytes(path, new UTF8Encoding(false).GetBytes(text));

    /// <summary>
    /// Forces a folder's entries (files created, renamed or deleted in it) to disk. Windows cannot open a folder to
    /// flush it, so there this does nothing: NTFS logs the metadata of a rename or delete itself.
    /// </summary>
    public static void FlushFolder(string folder)
    {
        if (!OperatingSystem.IsWindows())
        {
            Sync(folder);
        }
    }

    private static void FlushFile(string file)
    {
        if (OperatingSystem.IsWindows())
        {
            using var stream = new FileStream(file, FileMode.Open, FileAccess.ReadWrite);
            stream.Flush(flushToDisk: true);
        }
        else
        {
            Sync(file);
        }
    }

    /// <summary>
    /// fsync(2) through a read-only descriptor: FileStream flushes only what it may write (a copy keeps its source's
    /// read-only permissions) and cannot open a folder at all.
    /// </summary>
    private static void Sync(string path)
    {
        var descriptor = Open(path, ReadOnly);
        if (descriptor < 0)
        {
            throw new IOException($"Cannot open '{path}' to force it to disk: {Marshal.GetLastPInvokeErrorMessage()}");
        }

        try
        {
            if (Fsync(descriptor) != 0)
            {
                throw new IOException($"Cannot force '{path}' to disk: {Marshal.GetLastPInvokeErrorMessage()}");
            }
        }
        finally
        {
            _ = Close(descriptor);
        }
    }

    /// <summary>".name.pid.tmp", the temp name of <see cref="Write(string, Action{string}, bool)"/>.</summary>
    [GeneratedRegex(@"^\..+\.[0-9]+\.tmp$")]
    private static partial Regex LeftoverName();

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(int descriptor);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int descriptor);
}
