using System.Globalization;
using System.Text.Json;
using DogsVsCats.Vision.Realtime.Inference;
using DogsVsCats.Vision.Realtime.Live;
using DogsVsCats.Vision.Tests.Fixtures;
using DogsVsCats.Vision.Trainer.Run;
using Microsoft.Extensions.Logging.Abstractions;
using OpenCvSharp;

namespace DogsVsCats.Vision.Tests.Realtime;

/// <summary>The live frame loop on the real cat video, played as a camera, with the small training run's model.</summary>
[Trait("Category", "Slow")]
[Collection(RealtimeProcessGroup.Name)]
public sealed class LiveTests(SmallRunFixture run) : IDisposable
{
    private readonly TempDirectory temp = new();

    private static string Video => Path.GetFullPath(Path.Combine(TestData.DogsVsCatsRoot, "..", "video", "cat.mp4"));

    private string ModelPath => Path.Combine(run.RunDirectory, TrainingRun.ModelFile);

    private string Jsonl => Path.Combine(temp.Path, "frames.jsonl");

    public void Dispose() => temp.Dispose();

    [Fact]
    public void Live_LoopSlowerThanCamera_DropsFramesAndLatencyStaysBounded()
    {
        // The video delivers 30 fps in real time; the loop is capped at 5 fps, so 5 of every 6 frames must be dropped.
        // Runs until 12 frames are labelled, however long that takes on this machine now.
        const int Labelled = 12;
        RunUntil(() => Frames().Count >= Labelled, "--source", Video, "--loop", "--realtime-pacing", "--target-fps", "5", "--duration", "120", "--no-window", "--jsonl", Jsonl);

        var frames = Frames();
        Assert.True(frames.Count >= Labelled, $"only {frames.Count} frames");
        var indices = frames.Select(f => f.GetProperty("frame").GetInt64()).ToArray();
        var gaps = indices.Zip(indices.Skip(1), (a, b) => b - a).ToArray();
        Assert.True(gaps.Average() >= 3, $"frames were queued, not dropped: mean index step {gaps.Average():0.0}");
        // The source's frame index is its clock (30 a second, paced): the loop labelled at most 5 a second of it.
        var sourceSeconds = (indices[^1] - indices[0]) / 30.0;
        Assert.True(frames.Count - 1 <= (5 * sourceSeconds) + 1, $"{frames.Count} frames labelled in {sourceSeconds:0.0} s of video: the 5 fps cap did not hold");
        Assert.True(frames[^1].GetProperty("dropped").GetInt64() >= indices[^1] - frames.Count, "the channel did not count what it dropped");
        // Queued frames would age by ~170 ms per frame (4 s of backlog by the end); the newest-frame channel keeps them young.
        var latencies = frames.Select(f => f.GetProperty("latency_ms").GetDouble()).ToArray();
        Assert.True(latencies.Max() < 1000, $"latency reached {latencies.Max():0} ms");
        var half = latencies.Length / 2;
        Assert.True(latencies.Skip(half).Average() < latencies.Take(half).Average() + 250, "latency grows over time: frames are piling up");
    }

    [Fact]
    public void Live_VideoFileWithoutPacing_EveryFrameInOrder()
    {
        // A clip played to its end (no --duration): every one of its frames, however fast this machine is now.
        const int ClipFrames = 12;
        var clip = Path.Combine(temp.Path, "clip.mp4");
        WriteClip(clip, ClipFrames);
        var (code, output, error) = Realtime("--source", clip, "--target-fps", "1000", "--no-window", "--jsonl", Jsonl);

        Assert.True(code == 0, output + error);
        var indices = Frames().Select(f => f.GetProperty("frame").GetInt64()).ToArray();
        Assert.Equal(Enumerable.Range(0, ClipFrames).Select(i => (long)i), indices);
        Assert.Contains("0 dropped", output, StringComparison.Ordinal);

        // probabilities are each frame's own; smoothed is their moving average (--smoothing 0.3), which label and confidence follow.
        var frames = Frames();
        var raw = frames.Select(f => f.GetProperty("probabilities").GetProperty("cat").GetDouble()).ToArray();
        var smoothed = frames.Select(f => f.GetProperty("smoothed").GetProperty("cat").GetDouble()).ToArray();
        Assert.Equal(raw[0], smoothed[0], 5);
        for (var i = 1; i < frames.Count; i++)
        {
            Assert.Equal((0.3 * raw[i]) + (0.7 * smoothed[i - 1]), smoothed[i], 4);
        }

        Assert.True(raw.Zip(smoothed).Any(p => Math.Abs(p.First - p.Second) > 1e-3), "smoothing changed nothing: the check above proves nothing");
        Assert.All(frames, f => Assert.Equal(Math.Max(f.GetProperty("smoothed").GetProperty("cat").GetDouble(), f.GetProperty("smoothed").GetProperty("dog").GetDouble()), f.GetProperty("confidence").GetDouble(), 5));
    }

    [Fact]
    public void Live_MinConfidenceAboveEveryProbability_LabelReadsUncertain()
    {
        const int ClipFrames = 4;
        var clip = Path.Combine(temp.Path, "clip.mp4");
        WriteClip(clip, ClipFrames);
        var (code, output, error) = Realtime("--source", clip, "--target-fps", "1000", "--no-window", "--jsonl", Jsonl, "--min-confidence", "1");

        Assert.True(code == 0, output + error);
        var frames = Frames();
        Assert.Equal(ClipFrames, frames.Count);
        Assert.All(frames, f => Assert.Equal("uncertain", f.GetProperty("label").GetString()));
        Assert.All(frames, f => Assert.NotEqual("uncertain", f.GetProperty("raw_label").GetString()));
    }

    [Fact]
    public void Live_WindowUnderXvfb_DisplayedFrameIsTheAnnotatedVideo()
    {
        Assert.True(File.Exists("/usr/bin/Xvfb"), "Xvfb is missing: run ./dogsvscats deps");
        var plain = Path.Combine(temp.Path, "plain");
        var heat = Path.Combine(temp.Path, "heat");
        // Played to its end, so frame 8 is reached however slow this machine is now.
        var clip = Path.Combine(temp.Path, "clip.mp4");
        WriteClip(clip, 10);
        var (code, output, error) = Xvfb("--snapshot-at", "8", "--snapshot-dir", plain);
        Assert.True(code == 0, output + error);
        (code, output, error) = Xvfb("--snapshot-at", "8", "--snapshot-dir", heat, "--heatmap");
        Assert.True(code == 0, output + error);

        using var shown = Cv2.ImRead(Directory.GetFiles(plain).Single());
        using var shownWithHeat = Cv2.ImRead(Directory.GetFiles(heat).Single());
        using var video = new VideoCapture(clip);
        Assert.Equal((video.FrameWidth, video.FrameHeight), (shown.Width, shown.Height));
        Cv2.MeanStdDev(shown, out _, out var spread);
        Assert.True(spread.Val0 > 10, $"the displayed frame is blank (std dev {spread.Val0:0.0})");
        // The heat map is blended over the model's region, so the two snapshots must differ clearly there.
        using var difference = new Mat();
        Cv2.Absdiff(shown, shownWithHeat, difference);
        Assert.True(Cv2.Mean(difference).Val0 + Cv2.Mean(difference).Val2 > 10, "the heat map changed nothing");

        (int, string, string) Xvfb(params string[] args) => RealtimeProcess.Run(
            ["--model", ModelPath, "--source", clip, "--target-fps", "1000", .. args],
            wrapper: VirtualDisplay);
    }

    [Fact]
    public void Live_WindowUnderXvfb_ScreenCaptureShowsTheWindow()
    {
        // A real screen capture of the virtual display while the window is up (ImageMagick's import), not the app's own
        // snapshot: proves a window is shown and drawn into.
        Assert.True(File.Exists("/usr/bin/Xvfb") && File.Exists("/usr/bin/import") && File.Exists("/usr/bin/xdotool"), "Xvfb, ImageMagick's import or xdotool is missing: run ./dogsvscats deps");
        var shot = Path.Combine(temp.Path, "screen.png");
        // Waits (polling, up to a minute, while the app runs) for the window, then for a screen that is not blank, then quits with q.
        const string Script = "\"$@\" & app=$!; " + WaitForWindow +
            "for i in $(seq 600); do kill -0 $app 2>/dev/null || break; import -window root \"$SHOT\"; s=$(convert \"$SHOT\" -format '%[fx:int(1000*standard_deviation)]' info:); [ \"$s\" -gt 45 ] && break; sleep 0.1; done; " +
            "xdotool windowfocus --sync $w; xdotool key q; wait $app";
        var (code, output, error) = RealtimeProcess.Run(
            ["--model", ModelPath, "--source", Video, "--realtime-pacing", "--loop", "--duration", "60"],
            new Dictionary<string, string> { ["SHOT"] = shot },
            wrapper: [.. VirtualDisplay, "bash", "-c", Script, "screen-capture"]);

        Assert.True(code == 0, output + error);
        using var screen = Cv2.ImRead(shot);
        Assert.False(screen.Empty(), "no screen capture was written");
        Cv2.MeanStdDev(screen, out var mean, out var spread);
        Assert.True(spread.Val0 > 10 && mean.Val0 > 5, $"the screen is blank (mean {mean.Val0:0.0}, std dev {spread.Val0:0.0})");
    }

    [Fact]
    public void Live_WindowKeys_SnapshotHeatMapPauseAndQuit()
    {
        // Real key presses into the window (xdotool on the virtual display): s, h, s; space, s, s while paused; space,
        // s after resuming; then q, which must end a run that would otherwise last 60 s.
        Assert.True(File.Exists("/usr/bin/Xvfb") && File.Exists("/usr/bin/xdotool"), "Xvfb or xdotool is missing: run ./dogsvscats deps");
        var snapshots = Path.Combine(temp.Path, "keys");
        // Each key's effect is waited for (polling the snapshot folder) rather than slept on; keys act at the next pass.
        const string Script = "\"$@\" & app=$!; " + WaitForWindow + "xdotool windowfocus --sync $w; " +
            "shots() { for i in $(seq 600); do [ $(ls \"$SNAPS\" 2>/dev/null | wc -l) -ge $1 ] && return; sleep 0.1; done; }; " +
            "xdotool key s; shots 1; xdotool key h; xdotool key s; shots 2; " +
            "xdotool key space; xdotool key s; shots 3; xdotool key s; shots 4; xdotool key space; xdotool key s; shots 5; " +
            "xdotool key q; wait $app";
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var (code, output, error) = RealtimeProcess.Run(
            ["--model", ModelPath, "--source", Video, "--realtime-pacing", "--loop", "--duration", "60", "--snapshot-dir", snapshots],
            new Dictionary<string, string> { ["SNAPS"] = snapshots },
            wrapper: [.. VirtualDisplay, "bash", "-c", Script, "keys"]);

        Assert.True(code == 0, output + error);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(50), $"q did not end the run ({clock.Elapsed.TotalSeconds:F0} s)");
        // Named by frame index, so name order is time order.
        var files = Directory.GetFiles(snapshots).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(5, files.Length);
        var shots = files.Select(f => Cv2.ImRead(f)).ToArray();
        try
        {
            Assert.True(MeanDifference(shots[0], shots[1]) > 10, "h did not switch the heat map on");

            // Paused: the source went on (later frame numbers) but the window kept showing one frozen image, marked.
            Assert.True(FrameIndex(files[3]) > FrameIndex(files[2]), $"the source stopped while paused: {Path.GetFileName(files[2])}, {Path.GetFileName(files[3])}");
            using (var difference = new Mat())
            {
                Cv2.Absdiff(shots[2], shots[3], difference);
                Assert.Equal(0, Cv2.CountNonZero(difference.Reshape(1)));
            }

            Assert.True(BlackPixelsInMarker(shots[2]) > 1000, $"no pause marker ({BlackPixelsInMarker(shots[2])} marker pixels)");

            // Resumed: new frames are drawn again and the marker is gone.
            Assert.True(MeanDifference(shots[3], shots[4]) > 1, "space did not resume the window");
            Assert.True(BlackPixelsInMarker(shots[4]) < BlackPixelsInMarker(shots[2]) / 4, "the pause marker stayed after resuming");
        }
        finally
        {
            Array.ForEach(shots, s => s.Dispose());
        }

        static long FrameIndex(string snapshot) => long.Parse(Path.GetFileNameWithoutExtension(snapshot).Split('-', ' ')[1], CultureInfo.InvariantCulture);
    }

    [Fact]
    public void Live_PausedDraw_FreezesTheLastFrameUnderAMarker()
    {
        using var classifier = new Classifier(ModelPath, InferenceDevice.Cpu, 0, NullLogger.Instance);
        using var renderer = new FrameRenderer(classifier.Description.InputWidth, classifier.Description.InputHeight);
        var classify = new FrameClassifier(classifier, 0.3, 0.6);
        using var video = new VideoCapture(Video);
        var displays = new List<Mat>();
        try
        {
            foreach (var paused in new[] { false, true, true, false })
            {
                video.Set(VideoCaptureProperties.PosFrames, 40 * displays.Count);   // frames far enough apart to differ
#pragma warning disable CA2000 // the frame owns its Mat and disposes it
                using var frame = new Frame(new Mat(), displays.Count);
#pragma warning restore CA2000
                Assert.True(video.Read(frame.Image));
                var result = paused ? null : classify.Classify(frame);   // nothing is classified while paused
                renderer.Render(new FramePass(frame, new ViewState(paused, ShowHeatmap: false, Snapshot: false, Quit: false), default, result, renderer.Display));
                displays.Add(renderer.Display.Clone());
            }

            var (running, paused1, paused2, resumed) = (displays[0], displays[1], displays[2], displays[3]);
            var height = running.Height;
            using var above = new Mat();
            // Pausing adds the marker at the bottom and leaves the rest of the last frame as it was; later frames change nothing.
            Cv2.Absdiff(running.RowRange(0, height - 60), paused1.RowRange(0, height - 60), above);
            Assert.Equal(0, Cv2.CountNonZero(above.Reshape(1)));
            Assert.True(BlackPixelsInMarker(paused1) > 1000 && BlackPixelsInMarker(running) < 100, "no pause marker");
            Assert.Equal(0, MeanDifference(paused1, paused2));
            Assert.True(MeanDifference(paused2, resumed) > 1 && BlackPixelsInMarker(resumed) < 100, "resuming did not draw the new frame");
        }
        finally
        {
            displays.ForEach(d => d.Dispose());
        }
    }

    [Fact]
    public void Live_Heatmap_IsTheMapTheResultCarries()
    {
        // The heat map is drawn from the frame's own result: a classifier call made after it (another frame) changes nothing.
        using var classifier = new Classifier(ModelPath, InferenceDevice.Cpu, 0, NullLogger.Instance);
        using var renderer = new FrameRenderer(classifier.Description.InputWidth, classifier.Description.InputHeight);
        var classify = new FrameClassifier(classifier, 1, 0.6);
        using var video = new VideoCapture(Video);
#pragma warning disable CA2000 // each frame owns its Mat and disposes it
        using var first = new Frame(new Mat(), 0);
        using var later = new Frame(new Mat(), 1);
#pragma warning restore CA2000
        Assert.True(video.Read(first.Image));
        video.Set(VideoCaptureProperties.PosFrames, 120);
        Assert.True(video.Read(later.Image));
        var view = new ViewState(Paused: false, ShowHeatmap: true, Snapshot: false, Quit: false);

        var result = classify.Classify(first);
        renderer.Render(new FramePass(first, view, default, result, renderer.Display));
        using var alone = renderer.Display.Clone();
        var cam = result.Cam.Values.ToArray();
        classify.Classify(later);
        renderer.Render(new FramePass(first, view, default, result, renderer.Display));

        Assert.Equal(cam, result.Cam.Values);
        Assert.Equal((7, 7), (result.Cam.Height, result.Cam.Width));
        Assert.Equal(result.Raw.TopIndex, result.Cam.ClassIndex);
        Assert.Equal(0, MeanDifference(alone, renderer.Display));
    }

    [Fact]
    public void Live_Record_WritesPlayableVideoAndNeverOverwrites()
    {
        const int ClipFrames = 6;
        var clip = Path.Combine(temp.Path, "clip.mp4");
        WriteClip(clip, ClipFrames);
        var record = Path.Combine(temp.Path, "out.mp4");
        var (code, output, error) = Realtime("--source", clip, "--target-fps", "1000", "--no-window", "--record", record);
        Assert.True(code == 0, output + error);
        using (var written = new VideoCapture(record))
        {
            Assert.Equal(ClipFrames, written.FrameCount);
        }

        var size = new FileInfo(record).Length;
        (code, _, error) = Realtime("--source", clip, "--no-window", "--record", record);

        Assert.Equal(2, code);
        Assert.Contains("already exists", error, StringComparison.Ordinal);
        Assert.Equal(size, new FileInfo(record).Length);
    }

    [Fact]
    public void Live_Loop_RepeatsAShortVideoFromItsStart()
    {
        // A 12-frame clip (6 frames of the cat video, then 6 of the dog video) holds many loops in a few seconds.
        const int ClipFrames = 12;
        var clip = Path.Combine(temp.Path, "clip.mp4");
        WriteClip(clip, ClipFrames);

        // Runs until three loops are labelled, however fast this machine is now (probabilities are each frame's own, so
        // a repeated picture repeats them exactly).
        var output = RunUntil(() => Frames().Count >= 3 * ClipFrames, "--source", clip, "--loop", "--target-fps", "1000", "--duration", "120", "--no-window", "--jsonl", Jsonl);

        Assert.DoesNotContain("End of", output, StringComparison.Ordinal);
        var frames = Frames();
        Assert.True(frames.Count >= 3 * ClipFrames, $"{frames.Count} frames processed from a {ClipFrames}-frame clip: it did not loop");
        Assert.Equal(Enumerable.Range(0, frames.Count).Select(i => (long)i), frames.Select(f => f.GetProperty("frame").GetInt64()));
        var cat = frames.Select(f => f.GetProperty("probabilities").GetProperty("cat").GetDouble()).ToArray();
        Assert.True(Math.Abs(cat[0] - cat[ClipFrames - 1]) > 1e-4, "the clip's cat and dog frames score the same: the check below would prove nothing");
        for (var i = ClipFrames; i < cat.Length; i++)
        {
            Assert.True(Math.Abs(cat[i] - cat[i - ClipFrames]) <= 1e-5, $"frame {i} is not frame {i - ClipFrames} of the next loop: p(cat) {cat[i]} vs {cat[i - ClipFrames]}");
        }
    }

    [Fact]
    public void Live_StreamVanishesAndComesBack_ReconnectsWithBackoff()
    {
        // The bundled OpenCV's FFmpeg has no network protocols (an http or rtsp url never connects), so the stream here
        // is an image sequence (frame%04d.jpg, FFmpeg's image2 reader): like a url it is neither a file nor a camera, so
        // the app treats it as a stream. The folder is moved away mid-run and moved back.
        var frames = Path.Combine(temp.Path, "stream");
        var away = Path.Combine(temp.Path, "away");
        Directory.CreateDirectory(frames);
        using (var video = new VideoCapture(Video))
        {
            for (var i = 0; i < 30; i++)
            {
                using var image = new Mat();
                Assert.True(video.Read(image));
                Cv2.ImWrite(Path.Combine(frames, $"frame{i:D4}.jpg"), image);
            }
        }

        var source = Path.Combine(frames, "frame%04d.jpg");
        var lines = new System.Collections.Concurrent.ConcurrentQueue<string>();
        using var process = System.Diagnostics.Process.Start(RealtimeProcess.StartInfo(["--model", ModelPath, "--source", source, "--no-window", "--target-fps", "30", "--duration", "120", "--jsonl", Jsonl]))!;
        process.OutputDataReceived += (_, e) => lines.Enqueue(e.Data ?? "");
        process.ErrorDataReceived += (_, e) => lines.Enqueue(e.Data ?? "");
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            Assert.True(WaitFor(() => LabelledFrames() > 0), Log("no frame was labelled from the stream"));
            // The console logger writes from its own queue: the start-up line can arrive after the first labelled frame.
            Assert.True(WaitFor(() => lines.Any(l => l.Contains("(stream,", StringComparison.Ordinal))), Log("the source was not opened as a stream"));

            Directory.Move(frames, away);
            var vanished = lines.Count;
            Assert.True(WaitFor(() => lines.Skip(vanished).Any(l => l.Contains("next try in 4 s", StringComparison.Ordinal))), Log("no second failed try"));
            Directory.Move(away, frames);
            var back = lines.Count;
            var labelledBefore = LabelledFrames();
            Assert.True(WaitFor(() => lines.Skip(back).Any(l => l.Contains($"Reopened the stream {source}", StringComparison.Ordinal)) && LabelledFrames() > labelledBefore + 5), Log("the stream did not come back"));

            // While it was away: each failed try says so, and the wait doubles from the 1 s after the loss (2 s, then 4 s).
            var waits = lines.Skip(vanished).Take(back - vanished)
                .Where(l => l.Contains($"The stream {source} is still lost", StringComparison.Ordinal))
                .Select(l => int.Parse(System.Text.RegularExpressions.Regex.Match(l, @"next try in (\d+) s").Groups[1].Value, CultureInfo.InvariantCulture))
                .ToArray();
            Assert.True(waits.SequenceEqual([2, 4]), Log($"back-off {string.Join(", ", waits)} s"));
            Assert.Contains(lines.Skip(vanished), l => l.Contains($"The stream {source} is still lost (it cannot be opened)", StringComparison.Ordinal));
            Assert.Contains(lines, l => l.Contains($"Lost the stream {source}: it delivers no frame. Reopening in 1 s", StringComparison.Ordinal));
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
        }

        int LabelledFrames() => File.Exists(Jsonl) ? File.ReadLines(Jsonl).Count() : 0;
        string Log(string what) => $"{what}; output:\n{string.Join('\n', lines)}";
    }

    [Fact]
    public void Live_NoCamera_ExitsWithClearMessage()
    {
        var (code, _, error) = Realtime("--source", "9", "--no-window");

        Assert.Equal(2, code);
        Assert.Contains("No camera at index 9", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Live_UrlThatCannotBeOpened_ExitsWithClearMessage()
    {
        // Nothing listens on port 9 here; with the bundled Linux OpenCV no url opens anyway.
        var (code, _, error) = Realtime("--source", "http://127.0.0.1:9/stream.mjpg", "--no-window");

        Assert.Equal(2, code);
        Assert.Contains("Could not open the stream 'http://127.0.0.1:9/stream.mjpg'", error, StringComparison.Ordinal);
    }

    /// <summary>
    /// Runs the rest of the command line on a virtual display of its own. Xvfb picks a free display itself and writes
    /// its number once it takes connections (-displayfd), and it is stopped and waited for at the end; xvfb-run -a picks
    /// the number from lock files and returns while its server is still exiting, so a run could meet the last one's
    /// server (the app once failed to open a display under it, intermittently, cause not found). Xvfb's own output is
    /// on stderr, so it is in a failed test's message.
    /// </summary>
    private static readonly string[] VirtualDisplay =
    [
        "bash", "-c",
        "d=$(mktemp -d); Xvfb -displayfd 3 -screen 0 1024x1024x24 -nolisten tcp 3>\"$d/display\" & x=$!; " +
        "for i in $(seq 300); do grep -q . \"$d/display\" && break; kill -0 $x 2>/dev/null || break; sleep 0.1; done; " +
        "grep -q . \"$d/display\" || { echo 'Xvfb did not start' >&2; kill $x 2>/dev/null; rm -rf \"$d\"; exit 1; }; " +
        "export DISPLAY=:$(cat \"$d/display\"); \"$@\"; rc=$?; kill $x; wait $x; rm -rf \"$d\"; exit $rc",
        "virtual-display",
    ];

    /// <summary>
    /// Bash that polls (up to a minute) until the app's window exists and sets $w to it. Without a window (the app,
    /// $app, has exited, or the minute is up and it is stopped) the script ends with the app's exit code instead of
    /// sending keys to no window, so a failed start is reported with the app's output instead of as a timeout.
    /// </summary>
    private const string WaitForWindow = "for i in $(seq 600); do kill -0 $app 2>/dev/null || break; w=$(xdotool search --name 'DogsVsCats.Vision realtime' | head -n 1); [ -n \"$w\" ] && break; sleep 0.1; done; " +
        "[ -n \"$w\" ] || { kill $app 2>/dev/null; wait $app; exit $?; }; ";

    private (int Code, string Output, string Error) Realtime(params string[] args) =>
        RealtimeProcess.Run(["--model", ModelPath, .. args]);

    /// <summary>The frames --jsonl holds so far; a line still being written (no line end yet) is left out.</summary>
    private List<JsonElement> Frames() =>
        (File.Exists(Jsonl) ? File.ReadAllText(Jsonl) : "").Split('\n')[..^1].Select(l => JsonDocument.Parse(l).RootElement).ToList();

    /// <summary>Runs the app until <paramref name="condition"/> holds (polled, up to a minute), then kills it; returns its output.</summary>
    private string RunUntil(Func<bool> condition, params string[] args)
    {
        var lines = new System.Collections.Concurrent.ConcurrentQueue<string>();
        using var process = System.Diagnostics.Process.Start(RealtimeProcess.StartInfo(["--model", ModelPath, .. args]))!;
        process.OutputDataReceived += (_, e) => lines.Enqueue(e.Data ?? "");
        process.ErrorDataReceived += (_, e) => lines.Enqueue(e.Data ?? "");
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            Assert.True(WaitFor(() => condition() || process.HasExited) && !process.HasExited, $"the app ended or never got there; output:\n{string.Join('\n', lines)}");
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
        }

        return string.Join('\n', lines);
    }

    /// <summary>Waits for something the app does (a log line, a frame), up to a minute; false when it never happens.</summary>
    private static bool WaitFor(Func<bool> condition)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > TimeSpan.FromMinutes(1))
            {
                return false;
            }

            Thread.Sleep(100);
        }

        return true;
    }

    private static double MeanDifference(Mat a, Mat b)
    {
        using var difference = new Mat();
        Cv2.Absdiff(a, b, difference);
        var mean = Cv2.Mean(difference);
        return (mean.Val0 + mean.Val1 + mean.Val2) / 3;
    }

    /// <summary>Pure black pixels where the pause marker's box is drawn (bottom left); video frames have next to none there.</summary>
    private static int BlackPixelsInMarker(Mat display)
    {
        using var corner = new Mat(display, new Rect(0, display.Height - 40, Math.Min(200, display.Width), 40));
        using var black = new Mat();
        Cv2.InRange(corner, Scalar.All(0), Scalar.All(0), black);
        return Cv2.CountNonZero(black);
    }

    /// <summary>A short mp4v clip: half its frames from the cat video, half from the dog video resized to the same size.</summary>
    private static void WriteClip(string path, int frames)
    {
        using var cat = new VideoCapture(Video);
        using var dog = new VideoCapture(Path.Combine(Path.GetDirectoryName(Video)!, "dog.mp4"));
        var size = new Size(cat.FrameWidth, cat.FrameHeight);
        using var writer = new VideoWriter(path, FourCC.MP4V, 30, size);
        Assert.True(writer.IsOpened(), "OpenCV cannot write mp4v here");
        for (var i = 0; i < frames; i++)
        {
            using var image = new Mat();
            Assert.True((i < frames / 2 ? cat : dog).Read(image));
            using var sized = image.Resize(size);
            writer.Write(sized);
        }
    }
}
