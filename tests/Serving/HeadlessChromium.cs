using OpenCvSharp;
using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;

namespace DogsVsCats.Vision.Tests.Serving;

/// <summary>
/// Debian's chromium, headless, driven through Debian's chromedriver. Both paths are given to Selenium, so Selenium
/// Manager is never asked for a driver or a browser and nothing is downloaded. A machine without them fails the test
/// with the command that installs them, instead of skipping it.
/// </summary>
public sealed class HeadlessChromium : IDisposable
{
    public const string BrowserPath = "/usr/bin/chromium";
    public const string DriverPath = "/usr/bin/chromedriver";

    private readonly ChromeDriverService service;

    private HeadlessChromium(ChromeDriverService service, ChromeDriver driver) => (this.service, Driver) = (service, driver);

    public ChromeDriver Driver { get; }

    /// <summary>Starts the browser; with <paramref name="fakeCamera"/> (a .y4m file) its camera plays that file, permission granted.</summary>
    public static HeadlessChromium Start(string? fakeCamera = null)
    {
        var missing = new[] { BrowserPath, DriverPath }.Where(path => !File.Exists(path)).ToArray();
        if (missing.Length > 0)
        {
            throw new InvalidOperationException($"The browser tests need Debian's chromium and chromium-driver, and {string.Join(" and ", missing)} is missing: run './dogsvscats deps' (or 'apt-get install chromium chromium-driver').");
        }

        var service = ChromeDriverService.CreateDefaultService(Path.GetDirectoryName(DriverPath)!, Path.GetFileName(DriverPath));
        service.SuppressInitialDiagnosticInformation = true;
        var options = new ChromeOptions { BinaryLocation = BrowserPath };
        // As root in a container: no sandbox; headless has no GPU.
        options.AddArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1400");
        if (fakeCamera is not null)
        {
            options.AddArguments("--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream", $"--use-file-for-fake-video-capture={fakeCamera}");
        }

        try
        {
            return new HeadlessChromium(service, new ChromeDriver(service, options, TimeSpan.FromMinutes(1)));
        }
        catch
        {
            service.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Writes a Y4M file (what Chromium's fake camera plays, in a loop) from the first <paramref name="seconds"/> of a
    /// video, every <paramref name="step"/>th frame, scaled to <paramref name="width"/> pixels wide.
    /// </summary>
    public static void WriteFakeCamera(string video, string y4m, double seconds, int step = 3, int width = 240)
    {
        using var capture = new VideoCapture(video);
        Assert.True(capture.IsOpened(), $"OpenCV could not open {video}");
        var fps = capture.Fps / step;
        var height = (int)Math.Round(capture.FrameHeight * (double)width / capture.FrameWidth / 2) * 2;   // 4:2:0 needs even sizes
        using var file = File.Create(y4m);
        file.Write(System.Text.Encoding.ASCII.GetBytes($"YUV4MPEG2 W{width} H{height} F{Math.Round(fps * 1000)}:1000 Ip A1:1 C420jpeg\n"));
        using var frame = new Mat();
        using var small = new Mat();
        using var yuv = new Mat();
        var written = 0;
        for (var index = 0; index < seconds * capture.Fps && capture.Read(frame) && !frame.Empty(); index++)
        {
            if (index % step != 0)
            {
                continue;
            }

            Cv2.Resize(frame, small, new Size(width, height), 0, 0, InterpolationFlags.Area);
            Cv2.CvtColor(small, yuv, ColorConversionCodes.BGR2YUV_I420);   // Y, then U, then V: Y4M's plane order
            file.Write("FRAME\n"u8);
            file.Write(yuv.AsSpan<byte>());
            written++;
        }

        Assert.True(written > 0, $"no frames read from {video}");
    }

    public void Open(Uri address) => Driver.Navigate().GoToUrl(address);

    public IWebElement Find(string cssSelector) => Driver.FindElement(By.CssSelector(cssSelector));

    public string Text(string cssSelector) => Find(cssSelector).Text;

    /// <summary>Polls <paramref name="condition"/> until it holds; past the deadline, fails saying what was awaited and what the page's status line says.</summary>
    public async Task WaitUntilAsync(Func<bool> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"Waited {timeout.TotalSeconds:0} s for {what}; the page says: '{Text("#status")}'.");
            }

            await Task.Delay(100);
        }
    }

    /// <summary>Saves the window (or one element of the page) as a PNG in <paramref name="folder"/> and returns its path.</summary>
    public string Screenshot(string folder, string name, string? cssSelector = null)
    {
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, name + ".png");
        var shot = cssSelector is null ? Driver.GetScreenshot() : ((ITakesScreenshot)Find(cssSelector)).GetScreenshot();
        shot.SaveAsFile(path);
        return path;
    }

    public void Dispose()
    {
        Driver.Quit();
        Driver.Dispose();
        service.Dispose();
    }
}
