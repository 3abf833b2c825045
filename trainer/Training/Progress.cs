namespace DogsVsCats.Vision.Trainer.Training;

/// <summary>Where long work reports how far it got; the console shows bars with rate and ETA, tests stay quiet.</summary>
internal interface IProgressReporter
{
    IProgressTask Start(string description, int total, string unit);

    void Log(string message);
}

internal interface IProgressTask : IDisposable
{
    void Advance(int amount);
}

/// <summary>Reports nothing but log lines (to the given sink); for tests and embedding.</summary>
internal sealed class QuietProgress(Action<string>? log = null) : IProgressReporter
{
    public IProgressTask Start(string description, int total, string unit) => new NoTask();

    public void Log(string message) => log?.Invoke(message);

    private sealed class NoTask : IProgressTask
    {
        public void Advance(int amount)
        {
        }

        public void Dispose()
        {
        }
    }
}
