namespace DogsVsCats.Vision.Shared;

/// <summary>The one wording of progress lines in both programs: "done/total (p %), rate unit/s, ETA h:mm:ss".</summary>
public static class ProgressText
{
    /// <summary>"120/3000 (4 %), 85.3 img/s, ETA 0:34"; the rate and ETA read "-" until something is done.</summary>
    public static string Line(long done, long total, TimeSpan elapsed, string unit)
    {
        var percent = 100.0 * done / Math.Max(1, total);
        var rate = Rate(done, elapsed);
        return rate > 0
            ? $"{done}/{total} ({percent:F0} %), {rate:F1} {unit}/s, ETA {Duration(TimeSpan.FromSeconds((total - done) / rate))}"
            : $"{done}/{total} ({percent:F0} %), - {unit}/s, ETA -";
    }

    /// <summary>"3000 in 35.2 s, 85.2 img/s": the closing line of a task.</summary>
    public static string Summary(long done, TimeSpan elapsed, string unit) =>
        $"{done} in {elapsed.TotalSeconds:F1} s, {Rate(done, elapsed):F1} {unit}/s";

    /// <summary>Items per second; 0 before any time has passed.</summary>
    public static double Rate(long done, TimeSpan elapsed) => elapsed > TimeSpan.Zero ? done / elapsed.TotalSeconds : 0;

    /// <summary>"0:07", "12:34", "1:02:03", "2d 03:04:05": minutes and seconds always, hours and days when there are any.</summary>
    public static string Duration(TimeSpan span)
    {
        if (span < TimeSpan.Zero)
        {
            span = TimeSpan.Zero;
        }

        // Round to whole seconds first, so 59.6 s reads 1:00 and not 0:60.
        span = TimeSpan.FromSeconds(Math.Round(span.TotalSeconds));
        return span.TotalDays >= 1 ? $"{(int)span.TotalDays}d {span:hh\\:mm\\:ss}"
            : span.TotalHours >= 1 ? $"{(int)span.TotalHours}:{span:mm\\:ss}"
            : $"{(int)span.TotalMinutes}:{span:ss}";
    }
}
