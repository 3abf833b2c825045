namespace DogsVsCats.Vision.Shared;

/// <summary>The exit codes of every program in the toolkit (trainer, realtime, bench), so scripts can tell them apart.</summary>
public static class ExitCodes
{
    /// <summary>The work was done.</summary>
    public const int Ok = 0;

    /// <summary>The work started and failed (an I/O error mid-run, a model that fails at inference).</summary>
    public const int Failure = 1;

    /// <summary>Nothing was done: an option, a file or a folder was wrong; the message says what to change.</summary>
    public const int BadInput = 2;

    /// <summary>
    /// The run went to its end but left some items undone, each named in a warning and in its output (a photo that
    /// vanished or became unreadable before it could be sorted stays where it was); running again retries them.
    /// </summary>
    public const int Incomplete = 3;

    /// <summary>
    /// Ctrl+C stopped the work: 128 + SIGINT, as shells report it. Training saved its last completed epoch and printed
    /// the <c>train --resume</c> command that continues it.
    /// </summary>
    public const int Interrupted = 130;

    /// <summary>The codes in one sentence, for a program's --help.</summary>
    public static string Help { get; } =
        $"Exit codes: {Ok} done; {Failure} failed; {BadInput} nothing done, an option, file or folder was wrong; " +
        $"{Incomplete} finished, but some items were left undone, each named in a warning (a photo that could not be sorted also in " +
        "labels.csv's error column; a rerun retries it); " +
        $"{Interrupted} training stopped by Ctrl+C, its last completed epoch saved (train --resume RUN_FOLDER continues it).";
}
