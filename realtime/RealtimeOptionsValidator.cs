using DogsVsCats.Vision.Realtime.Labelling;
using Microsoft.Extensions.Options;

namespace DogsVsCats.Vision.Realtime;

/// <summary>
/// Checks options at start, so a wrong value stops the app with a message that says what to change. Choices that are
/// not names at all were already reported by <see cref="RealtimeOptions.Bind"/>.
/// </summary>
public sealed class RealtimeOptionsValidator : IValidateOptions<RealtimeOptions>
{
    public ValidateOptionsResult Validate(string? name, RealtimeOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(options.Model))
        {
            errors.Add("--model is required: the model.onnx that 'trainer train' or 'trainer export' wrote.");
        }
        else if (!File.Exists(options.Model))
        {
            errors.Add($"--model '{options.Model}' does not exist. Train first ('trainer train') or export a checkpoint ('trainer export').");
        }

        if (options.Sort != SortMode.None)
        {
            var sort = RealtimeOptions.Text(options.Sort);
            if (string.IsNullOrWhiteSpace(options.Out))
            {
                errors.Add($"--sort {sort} needs --out DIR: the folder that receives <label>/ and uncertain/.");
            }

            if (!options.IsFolderSource)
            {
                errors.Add($"--sort {sort} works on a folder or an image; --source '{options.Source}' is neither.");
            }
        }

        if (options.MinConfidence is < 0 or > 1)
        {
            errors.Add($"--min-confidence {options.MinConfidence} must be between 0 and 1.");
        }

        if (options.Batch is < 1 or > 1024)
        {
            errors.Add($"--batch {options.Batch} must be between 1 and 1024.");
        }

        if (options.Threads < 0)
        {
            errors.Add($"--threads {options.Threads} must be 0 (all cores) or more.");
        }

        if (options.Smoothing is <= 0 or > 1)
        {
            errors.Add($"--smoothing {options.Smoothing} must be in (0, 1]: the newest frame's weight (1 = no smoothing).");
        }

        if (options.TargetFps is <= 0 or > 1000)
        {
            errors.Add($"--target-fps {options.TargetFps} must be in (0, 1000].");
        }

        if (options.Duration < 0 || options.SnapshotAt < 0)
        {
            errors.Add("--duration and --snapshot-at must be 0 or more.");
        }

        if (!string.IsNullOrWhiteSpace(options.Record) && File.Exists(options.Record))
        {
            errors.Add($"--record '{options.Record}' already exists; choose another name (an existing file is never replaced).");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
