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
}
