using DogsVsCats.Vision.Shared;

namespace DogsVsCats.Vision.Tests.Shared;

[Trait("Category", "Fast")]
public sealed class ProgressTextTests
{
    [Theory]
    [InlineData(0, "0:00")]
    [InlineData(7, "0:07")]
    [InlineData(59.6, "1:00")]
    [InlineData(754, "12:34")]
    [InlineData(3723, "1:02:03")]
    [InlineData(36000, "10:00:00")]
    [InlineData(183845, "2d 03:04:05")]
    [InlineData(-5, "0:00")]
    public void Duration_Seconds_ReadsAsClockTime(double seconds, string expected) =>
        Assert.Equal(expected, ProgressText.Duration(TimeSpan.FromSeconds(seconds)));

    [Fact]
    public void Line_HalfwayAtTenPerSecond_GivesRateAndRemainingTime()
    {
        // 1,500 of 3,000 in 150 s: 10 img/s, 150 s left.
        Assert.Equal("1500/3000 (50 %), 10.0 img/s, ETA 2:30", ProgressText.Line(1500, 3000, TimeSpan.FromSeconds(150), "img"));
    }

    [Fact]
    public void Line_NothingDoneYet_SaysSoInsteadOfDividingByZero()
    {
        Assert.Equal("0/3000 (0 %), - images/s, ETA -", ProgressText.Line(0, 3000, TimeSpan.FromSeconds(3), "images"));
        Assert.Equal("0/10 (0 %), - img/s, ETA -", ProgressText.Line(0, 10, TimeSpan.Zero, "img"));
    }

    [Fact]
    public void Line_LongRun_ShowsHours()
    {
        // 50,000 photos at 10/s: 1 h 23 min 20 s in all; 100 done after 10 s leaves 4,990 s.
        Assert.Equal("100/50000 (0 %), 10.0 images/s, ETA 1:23:10", ProgressText.Line(100, 50000, TimeSpan.FromSeconds(10), "images"));
    }

    [Fact]
    public void Summary_GivesCountTimeAndRate() =>
        Assert.Equal("3000 in 35.2 s, 85.2 img/s", ProgressText.Summary(3000, TimeSpan.FromSeconds(35.2), "img"));
}
