using System.Diagnostics;
using DogsVsCats.Vision.Shared;
using DogsVsCats.Vision.Trainer.Training;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace DogsVsCats.Vision.Trainer.Cli;

/// <summary>
/// Progress bars with rate and ETA on a terminal; on a pipe or CI log, plain lines every 10 seconds and at the end
/// of each task, so logs stay readable.
/// </summary>
internal sealed class ConsoleProgress : IProgressReporter
{
    // Spectre keeps only value types in a task's state, so the unit travels as an index into this list.
    private static readonly string[] Units = ["img", "vec"];

    private readonly ProgressContext? context;

    private ConsoleProgress(ProgressContext? context) => this.context = context;

    public static T Run<T>(Func<IProgressReporter, T> work)
    {
        if (!AnsiConsole.Profile.Capabilities.Interactive)
        {
            return work(new ConsoleProgress(null));
        }

        return AnsiConsole.Progress()
            .AutoClear(false)
            .HideCompleted(true)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RateColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .Start(ctx => work(new ConsoleProgress(ctx)));
    }

    public IProgressTask Start(string description, int total, string unit) =>
        context is null ? new PlainTask(description, total, unit) : new BarTask(context.AddTask(Markup.Escape(description), maxValue: Math.Max(1, total)), unit);

    // Plain Console on a pipe: Spectre would wrap long lines at its default width of 80.
    public void Log(string message)
    {
        if (context is null)
        {
            Console.WriteLine(message);
        }
        else
        {
            AnsiConsole.MarkupLine(Markup.Escape(message));
        }
    }

    private sealed class BarTask : IProgressTask
    {
        private readonly ProgressTask task;

        public BarTask(ProgressTask task, string unit)
        {
            this.task = task;
            task.State.Update<int>("unit", _ => Array.IndexOf(Units, unit));
        }

        public void Advance(int amount) => task.Increment(amount);

        public void Dispose() => task.StopTask();
    }

    private sealed class PlainTask(string description, int total, string unit) : IProgressTask
    {
        private readonly Stopwatch clock = Stopwatch.StartNew();
        private readonly Lock gate = new();
        private TimeSpan lastPrint;
        private int done;

        public void Advance(int amount)
        {
            lock (gate)
            {
                done += amount;
                if (clock.Elapsed - lastPrint >= TimeSpan.FromSeconds(10) && done < total)
                {
                    lastPrint = clock.Elapsed;
                    Console.WriteLine($"  {description}: {ProgressText.Line(done, total, clock.Elapsed, unit)}");
                }
            }
        }

        public void Dispose()
        {
            if (clock.Elapsed.TotalSeconds >= 2)
            {
                Console.WriteLine($"  {description}: {ProgressText.Summary(done, clock.Elapsed, unit)}");
            }
        }
    }

    /// <summary>Items per second of the task, in its own unit (img/s, vec/s).</summary>
    private sealed class RateColumn : ProgressColumn
    {
        public override IRenderable Render(RenderOptions options, ProgressTask task, TimeSpan deltaTime)
        {
            var index = task.State.Get<int>("unit");
            var unit = index >= 0 && index < Units.Length ? Units[index] : "items";
            return new Text(task.Speed is double speed ? $"{speed,7:F1} {unit}/s" : $"      - {unit}/s", new Style(Color.Grey));
        }
    }
}
