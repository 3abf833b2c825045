namespace DogsVsCats.Vision.Realtime.Hosting;

/// <summary>What the work services report back to Main.</summary>
internal sealed class RunOutcome
{
    public int ExitCode { get; set; }
}
