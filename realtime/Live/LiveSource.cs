using System.Globalization;
using OpenCvSharp;

namespace DogsVsCats.Vision.Realtime.Live;

/// <summary>What --source names when it is not a folder: a camera index, a video file, or a device path / stream url.</summary>
internal sealed record LiveSource(string Text)
{
    public int? CameraIndex => int.TryParse(Text, NumberStyles.None, CultureInfo.InvariantCulture, out var index) ? index : null;

    public bool IsVideoFile => CameraIndex is null && File.Exists(Text) && !Text.StartsWith("/dev/", StringComparison.Ordinal);

    /// <summary>Opens the source; the caller checks <see cref="VideoCapture.IsOpened"/> and disposes it.</summary>
    public VideoCapture Open() => CameraIndex is { } index ? new VideoCapture(index) : new VideoCapture(Text);

    /// <summary>Why the source could not be opened, and what to try.</summary>
    public string CannotOpen() => CameraIndex is { } index
        ? $"No camera at index {index}: OpenCV could not open it. Is a camera connected (on Linux: ls /dev/video*) and free? To try without one, play a video file as a camera: --source video.mp4 --realtime-pacing."
        : IsVideoFile
            ? $"OpenCV could not read the video '{Text}': it is not a video file or its codec is not supported."
            : Text.Contains("://", StringComparison.Ordinal)
                ? $"Could not open the stream '{Text}' (check the url and that the stream is up). The OpenCV that NuGet bundles for Linux cannot open network urls at all: its FFmpeg has no network protocols."
                : $"Could not open '{Text}': not a folder, image, video file, camera index or reachable stream (check the path or url).";
}
