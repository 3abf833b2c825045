using System.Runtime.InteropServices;

namespace DogsVsCats.Vision.Realtime;

/// <summary>
/// Keeps the process's native memory flat over a long folder run on Linux. glibc's malloc serves a block above its mmap
/// threshold (128 KiB) with its own mapping and returns it to the system on free, but after the first such free it
/// raises the threshold to that block's size. From then on every decoded photo (a few hundred KiB, sizes all
/// different) comes from the heap of the thread that decoded it, and the freed gaps stay in those per-thread heaps:
/// measured with bench label, the working set crept from 660 to 708 MiB over two passes of the same 3,000 photos.
/// Fixing the threshold at glibc's default keeps large buffers in their own mappings, so each is returned when freed.
/// </summary>
public static class NativeHeap
{
    /// <summary>glibc's default mmap threshold, kept fixed instead of rising with the largest freed block.</summary>
    public const int MmapThreshold = 128 * 1024;

    private const int MallocMmapThreshold = -3;   // M_MMAP_THRESHOLD in malloc.h

    /// <summary>Sets the fixed threshold; true where glibc accepted it, false elsewhere (Windows, macOS, musl).</summary>
    public static bool KeepLargeBlocksMapped()
    {
        if (!OperatingSystem.IsLinux())
        {
            return false;
        }

        try
        {
            return Mallopt(MallocMmapThreshold, MmapThreshold) == 1;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

    // Two ints in, one out: nothing to marshal, so DllImport needs no unsafe code (LibraryImport would).
    [DllImport("libc", EntryPoint = "mallopt")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int Mallopt(int parameter, int value);
}
