using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using DogsVsCats.Vision.Realtime.Live;
using DogsVsCats.Vision.Tests.Fixtures;
using DogsVsCats.Vision.Trainer.Run;
using OpenQA.Selenium;
using Xunit.Abstractions;

namespace DogsVsCats.Vision.Tests.Serving;

/// <summary>
/// The served page in a real browser (headless Chromium): photos picked from disk, this device's camera (Chromium's
/// fake camera playing a shared video) and the --source live view, each read back from the page. Screenshots go to
/// TestResults/serve-page/ at the repository's root.
/// </summary>
[Trait("Category", "Slow")]
[Collection(SmallRunGroup.Name)]
public sealed class ServePageTests(SmallRunFixture run, ITestOutputHelper output)
{
    private const string ApiKey = "page-test-key-0123456789";
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(90);
    private static readonly string[] Labels = ["cat", "dog", "uncertain"];

    private static string Screenshots => Path.Combine(TestData.RepositoryRoot, "TestResults", "serve-page");

    /// <summary>cat.mp4 shows one cat (../shared/data/README.md).</summary>
    private static string CatVideo => Path.Combine(TestData.DogsVsCatsRoot, "..", "video", "cat.mp4");

    private string ModelPath => Path.Combine(run.RunDirectory, TrainingRun.ModelFile);

    [Fact]
    public async Task Files_ServedUnguarded_ApiAndLiveStreamsAreNot()
    {
        await using var server = await RunningServer.StartAsync(ModelPath, o => o.ApiKey = ApiKey);
        var client = server.Client;

        using var page = await client.GetAsync("/");
        using var script = await client.GetAsync("/app.js");
        using var info = await client.GetAsync("/v1/info");
        using var frames = await client.GetAsync("/v1/live.mjpeg");
        using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/live.mjpeg") { Headers = { Authorization = new AuthenticationHeaderValue("Bearer", ApiKey) } };
        using var framesWithKey = await client.SendAsync(request);

        Assert.Equal((HttpStatusCode.OK, "text/html"), (page.StatusCode, page.Content.Headers.ContentType?.MediaType));
        Assert.Contains("app.js", await page.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Contains("default-src 'self'", page.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, script.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, info.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, frames.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, framesWithKey.StatusCode);
        Assert.Contains("--source", JsonNode.Parse(await framesWithKey.Content.ReadAsStringAsync())!["error"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Photos_PickedWithApiKey_ShowTheServersLabels()
    {
        await using var server = await RunningServer.StartAsync(ModelPath, o => o.ApiKey = ApiKey);
        string[] photos = [TestData.RealPhotos("cat", 1)[0], TestData.RealPhotos("dog", 1)[0]];
        using var browser = HeadlessChromium.Start();
        browser.Open(server.Address);

        await browser.WaitUntilAsync(() => browser.Find("#key-form").Displayed, Deadline, "the page to ask for the API key");
        browser.Find("#api-key").SendKeys(ApiKey + Keys.Enter);
        await browser.WaitUntilAsync(() => browser.Text("#status").Contains("is ready", StringComparison.Ordinal), Deadline, "the model to be ready");
        browser.Find("#file-input").SendKeys(string.Join('\n', photos));
        await browser.WaitUntilAsync(() => browser.Driver.FindElements(By.CssSelector(".result[data-state='done']")).Count == photos.Length, Deadline, "both photos' labels");
        output.WriteLine($"Screenshot: {browser.Screenshot(Screenshots, "photos")}");

        foreach (var photo in photos)
        {
            var card = browser.Find($".result[data-name='{Path.GetFileName(photo)}']");
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/classify") { Content = new ByteArrayContent(await File.ReadAllBytesAsync(photo)) };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", ApiKey);
            using var response = await server.Client.SendAsync(request);
            var expected = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
            Assert.Equal(expected["label"]!.GetValue<string>(), card.FindElement(By.CssSelector(".label")).Text);
            // The page shows a percentage to one decimal: equal to the server's within its rounding.
            var shown = double.Parse(card.FindElement(By.CssSelector(".confidence")).Text.TrimEnd('%', ' '), CultureInfo.InvariantCulture);
            Assert.Equal(expected["confidence"]!.GetValue<double>() * 100, shown, 0.051);
            Assert.StartsWith("data:image/png;base64,", card.FindElement(By.CssSelector("img.cam")).GetDomProperty("src"), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Camera_FakeCameraPlaysCatVideo_CatLabelsAppearWithRateAndLatency()
    {
        using var temp = new TempDirectory();
        var y4m = Path.Combine(temp.Path, "cat.y4m");
        HeadlessChromium.WriteFakeCamera(CatVideo, y4m, seconds: 6);
        await using var server = await RunningServer.StartAsync(ModelPath);
        using var browser = HeadlessChromium.Start(fakeCamera: y4m);
        browser.Open(server.Address);
        await browser.WaitUntilAsync(() => browser.Text("#status").Contains("is ready", StringComparison.Ordinal), Deadline, "the model to be ready");

        browser.Find("#camera-start").Click();
        await browser.WaitUntilAsync(() => Tally(browser, "cat") >= 5, Deadline, "five cat labels from the camera view");

        // Not a majority: the small run's model (seconds of training on 48 photos) calls some of these frames dog.
        output.WriteLine($"Camera labels: cat {Tally(browser, "cat")}, dog {Tally(browser, "dog")}, uncertain {Tally(browser, "uncertain")}");
        Assert.True(double.Parse(browser.Text("#camera-fps"), CultureInfo.InvariantCulture) > 0);
        Assert.True(double.Parse(browser.Text("#camera-latency"), CultureInfo.InvariantCulture) > 0);
        output.WriteLine($"Screenshot: {browser.Screenshot(Screenshots, "camera", "#camera")}");
    }

    [Fact]
    public async Task Live_SourceVideo_PageShowsFramesAndPredictions()
    {
        var live = new LiveOptions { Source = Path.GetFullPath(CatVideo), Loop = true, RealtimePacing = true, NoWindow = true };
        await using var server = await RunningServer.StartAsync(ModelPath, live: live);
        using var browser = HeadlessChromium.Start();
        browser.Open(server.Address);

        await browser.WaitUntilAsync(() => browser.Find("#live").Displayed, Deadline, "the live view");
        await browser.WaitUntilAsync(() => int.Parse(browser.Text("#live-frames"), CultureInfo.InvariantCulture) >= 10, Deadline, "ten live frames");
        await browser.WaitUntilAsync(() => browser.Text("#live-frame") != "–", Deadline, "a live prediction");
        var first = long.Parse(browser.Text("#live-frame"), CultureInfo.InvariantCulture);
        await browser.WaitUntilAsync(() => long.Parse(browser.Text("#live-frame"), CultureInfo.InvariantCulture) > first, Deadline, "a later live prediction");

        Assert.Contains(browser.Text("#live-label"), Labels);
        // Each frame replaces the image's source, and its width reads 0 until that frame has decoded: waited for, not read once.
        await browser.WaitUntilAsync(() => Convert.ToInt64(browser.Driver.ExecuteScript("return document.getElementById('live-image').naturalWidth"), CultureInfo.InvariantCulture) > 0, Deadline, "a live frame shown as an image");
        output.WriteLine($"Screenshot: {browser.Screenshot(Screenshots, "live")}");
    }

    /// <summary>How many answers the camera view has shown with <paramref name="label"/>.</summary>
    private static int Tally(HeadlessChromium browser, string label) => Convert.ToInt32(
        browser.Driver.ExecuteScript("return Number(document.querySelector(`#camera-tally li[data-label='${arguments[0]}']`)?.dataset.count ?? 0)", label),
        CultureInfo.InvariantCulture);
}
