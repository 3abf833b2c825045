namespace DogsVsCats.Vision.Realtime.Live;

/// <summary>What the viewer can ask for (the window's keys).</summary>
internal enum LiveCommand
{
    ToggleHeatmap,
    TogglePause,
    Snapshot,
    Quit,
}

/// <summary>How the loop treats the current frame, as the viewer's commands left it.</summary>
/// <param name="Paused">Nothing is classified, drawn anew or recorded; the last frame stays on screen.</param>
/// <param name="ShowHeatmap">The class activation map is drawn over the region the model sees.</param>
/// <param name="Snapshot">Write this frame's display to a file (once).</param>
/// <param name="Quit">End the run.</param>
internal readonly record struct ViewState(bool Paused, bool ShowHeatmap, bool Snapshot, bool Quit);

/// <summary>
/// The input stage of the frame loop: commands posted during a pass (a key in the window) take effect at the start of
/// the next pass, in the order they came, so no output sets flags for another.
/// </summary>
internal sealed class LiveInput(bool heatmap)
{
    private readonly Queue<LiveCommand> pending = new();
    private ViewState view = new(Paused: false, ShowHeatmap: heatmap, Snapshot: false, Quit: false);

    public void Post(LiveCommand command) => pending.Enqueue(command);

    /// <summary>The view for the pass that starts now: the last one changed by every command posted since.</summary>
    public ViewState Next()
    {
        view = view with { Snapshot = false };
        while (pending.TryDequeue(out var command))
        {
            view = command switch
            {
                LiveCommand.ToggleHeatmap => view with { ShowHeatmap = !view.ShowHeatmap },
                LiveCommand.TogglePause => view with { Paused = !view.Paused },
                LiveCommand.Snapshot => view with { Snapshot = true },
                LiveCommand.Quit => view with { Quit = true },
                _ => throw new ArgumentOutOfRangeException(nameof(command), command, null),
            };
        }

        return view;
    }
}
