using System.Diagnostics;

namespace DogsVsCats.Vision.Tests.Export;

/// <summary>ONNX's own validator (Debian's python3-onnx), independent of the code that wrote the file.</summary>
internal static class OnnxChecker
{
    public static void AssertAccepts(string path, string what)
    {
        var start = new ProcessStartInfo(TestData.Python) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { "-c", "import onnx, sys; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True); print('ok')", path })
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEndAsync();
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"onnx.checker rejected {what} (install python3-onnx with ./dogsvscats deps if it is missing): {error.Result}");
        Assert.Equal("ok", output.Trim());
    }
}
