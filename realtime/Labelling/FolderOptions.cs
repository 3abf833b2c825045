using DogsVsCats.Vision.Realtime.Hosting;
using DogsVsCats.Vision.Shared;

namespace DogsVsCats.Vision.Realtime.Labelling;

/// <summary>Folder labelling's settings (a folder or one image as the source); bound by the app's option binder.</summary>
internal sealed class FolderOptions
{
    /// <summary>The folder (searched recursively) or image.</summary>
    public string Source { get; set; } = "";

    /// <summary>Images per inference.</summary>
    public int Batch { get; set; } = 16;

    /// <summary>The CSV of results; relative paths are under --out when given, else the current folder.</summary>
    public string Csv { get; set; } = "labels.csv";

    /// <summary>Also write one JSON object per image to this file.</summary>
    public string? Jsonl { get; set; }

    /// <summary>none, copy or move each photo into Out/&lt;label&gt;/ or Out/uncertain/.</summary>
    public SortMode Sort { get; set; } = SortMode.None;

    /// <summary>The sorted folder (required with --sort copy|move).</summary>
    public string? Out { get; set; }

    /// <summary>Report what would happen; write, copy and move nothing.</summary>
    public bool DryRun { get; set; }

    /// <summary>Whether <paramref name="source"/> is labelled as a folder (a folder or one image) rather than played live.</summary>
    public static bool IsFolderSource(string? source) =>
        !string.IsNullOrEmpty(source) && (Directory.Exists(source) || (File.Exists(source) && ImageFile.IsImagePath(source)));

    public void Validate(ICollection<string> errors)
    {
        if (Sort != SortMode.None && string.IsNullOrWhiteSpace(Out))
        {
            errors.Add($"--sort {OptionBinder.Text(Sort)} needs --out DIR: the folder that receives <label>/ and uncertain/.");
        }

        if (Batch is < 1 or > 1024)
        {
            errors.Add($"--batch {Batch} must be between 1 and 1024.");
        }
    }
}
