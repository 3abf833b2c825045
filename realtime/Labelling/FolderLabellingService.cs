using System.Diagnostics;
using System.Globalization;
using DogsVsCats.Vision.Realtime.Hosting;
using DogsVsCats.Vision.Realtime.Inference;
using DogsVsCats.Vision.Shared;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenCvSharp;

namespace DogsVsCats.Vision.Realtime.Labelling;

/// <summary>
/// Labels a folder (recursively) or one image in batches: labels.csv (+ JSON lines), optional copy/move sorting,
/// progress with rate and ETA, a summary. A rerun skips files labels.csv already lists and finishes any sorting an
/// interrupted run left undone.
/// </summary>
internal sealed class FolderLabellingService(
    IOptions<FolderOptions> options,
    IOptions<ClassifierOptions> classifierOptions,
    Classifier classifier,
    RunOutcome outcome,
    IHostApplicationLifetime lifetime,
    ILogger<FolderLabellingService> logger) : BackgroundService
{
    private static readonly TimeSpan ProgressEvery = TimeSpan.FromSeconds(2);

    /// <summary>Threads that read, decode and resize photos beside ONNX Runtime's own.</summary>
    private static int DecodeThreads => Environment.ProcessorCount;
    private readonly FolderOptions settings = options.Value;
    private readonly double minConfidence = classifierOptions.Value.MinConfidence;

    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            Label(stoppingToken);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidOperationException)
        {
            logger.LogError("{Message}", e.Message);
            outcome.ExitCode = ExitCodes.Failure;
        }
        finally
        {
            lifetime.StopApplication();
        }

        return Task.CompletedTask;
    }

    private void Label(CancellationToken stop)
    {
        var labels = classifier.Labels;
        var sorting = settings.Sort != SortMode.None;
        var sort = OptionBinder.Text(settings.Sort);
        var outRoot = settings.Out is null ? null : Path.GetFullPath(settings.Out);
        var csvPath = Path.GetFullPath(Path.Combine(outRoot ?? Directory.GetCurrentDirectory(), settings.Csv));
        var jsonlPath = settings.Jsonl is null ? null : Path.GetFullPath(settings.Jsonl);
        logger.LogInformation("Model: {Labels} at {Width}x{Height}, on {Device}.", string.Join(", ", labels), classifier.Description.InputWidth, classifier.Description.InputHeight, classifier.Device);

        using var sorter = sorting ? new PhotoSorter(outRoot!, settings.Sort == SortMode.Move, logger) : null;
        if (sorter is not null && !settings.DryRun)
        {
            sorter.Recover();
        }

        var done = LabelsCsv.Read(csvPath, labels);
        using var csv = settings.DryRun ? null : LabelsCsv.Open(csvPath, labels);
        var notSorted = sorter is not null && !settings.DryRun ? FinishSorting(done, labels, sorter, csv!) : 0;

        var ownFiles = new[] { csvPath, jsonlPath };
        var files = Enumerate(settings.Source, outRoot).Where(f => !ownFiles.Contains(f)).ToList();
        var todo = files.Where(f => !done.ContainsKey(f)).ToList();
        logger.LogInformation("{Files} files in {Source}; {Done} already in {Csv}, {Todo} to label{DryRun}.", files.Count, settings.Source, files.Count - todo.Count, csvPath, todo.Count, settings.DryRun ? " (dry run: nothing is written, copied or moved)" : "");

        using var jsonl = settings.DryRun || jsonlPath is null ? null : new PredictionJsonl(jsonlPath);
        var counts = new SortedDictionary<string, int>(StringComparer.Ordinal);
        var clock = Stopwatch.StartNew();
        var lastProgress = TimeSpan.Zero;
        var processed = 0;
        // Chunk k + 1 is read, decoded and resized on the decode threads while chunk k runs in ONNX Runtime.
        using var decoder = new ChunkDecoder(DecodeThreads, settings.Batch, classifier.Description.InputWidth, classifier.Description.InputHeight);
        var chunks = todo.Chunk(settings.Batch).ToList();
        var next = chunks.Count > 0 ? decoder.Start(chunks[0]) : null;
        for (var k = 0; k < chunks.Count; k++)
        {
            if (stop.IsCancellationRequested)
            {
                logger.LogWarning("Stopped after {Processed} of {Todo} files; run the same command again to continue.", processed, todo.Count);
                break;
            }

            var decoded = next!.GetAwaiter().GetResult();
            next = k + 1 < chunks.Count ? decoder.Start(chunks[k + 1]) : null;
            var chunk = decoded.Paths;
            var rows = Classify(decoded);
            if (sorter is not null)
            {
                rows = rows.Select(r => r.Prediction is null ? r : r with { Destination = sorter.Plan(r.Path, r.Label) }).ToArray();
            }

            csv?.Append(rows);
            for (var i = 0; i < rows.Length; i++)
            {
                var row = rows[i];
                counts[row.Error is null ? row.Label : "unreadable"] = counts.GetValueOrDefault(row.Error is null ? row.Label : "unreadable") + 1;
                if (row.Error is not null)
                {
                    logger.LogWarning("{Path}: {Error}", row.Path, row.Error);
                }

                if (row.Destination is not null)
                {
                    if (settings.DryRun)
                    {
                        logger.LogInformation("would {Sort} {Path} -> {Destination}", sort, row.Path, row.Destination);
                    }
                    else if (TrySort(sorter!, row.Path, row.Destination) is { } error)
                    {
                        // A later row for the same path wins: labels.csv says why this photo is still at its path.
                        rows[i] = row with { Error = error };
                        csv!.Append([rows[i]]);
                        notSorted++;
                    }
                }
            }

            jsonl?.Write(rows.Select(r => PredictionLine.Of(r.Label, r.Prediction) with { Path = r.Path, Error = r.Error, Destination = r.Destination }));
            processed += chunk.Length;
            if (clock.Elapsed - lastProgress >= ProgressEvery || processed == todo.Count)
            {
                lastProgress = clock.Elapsed;
                logger.LogInformation("{Progress}", ProgressText.Line(processed, todo.Count, clock.Elapsed, "images"));
            }
        }

        logger.LogInformation(
            "Summary: {Rate}: {Counts}; {Skipped} skipped (already labelled). {Csv}{Sorted}",
            ProgressText.Summary(processed, clock.Elapsed, "images"),
            counts.Count == 0 ? "nothing new" : string.Join(", ", counts.Select(c => $"{c.Key} {c.Value}")),
            files.Count - todo.Count,
            settings.DryRun ? "Dry run: nothing was written." : $"Results: {csvPath}.",
            sorter is null ? "" : $" Sorted ({sort}{(settings.DryRun ? ", dry run" : "")}) into {outRoot}; unreadable files stay where they are" +
                (notSorted == 0 ? "." : $"; {notSorted} photos could not be sorted and stay where they are (see the warnings); run the same command again to retry them."));
        if (notSorted > 0)
        {
            outcome.ExitCode = ExitCodes.Incomplete;
        }
    }

    /// <summary>
    /// Sorts one photo; null when done, else the reason it was not. A photo can vanish or become unreadable after it was
    /// labelled (deleted, a permission change, a network share gone): it is named in a warning and the run goes on, since
    /// the other photos are still there to sort.
    /// </summary>
    private string? TrySort(PhotoSorter sorter, string path, string destination)
    {
        try
        {
            sorter.Transfer(path, destination);
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            var error = $"not sorted: {e.Message}";
            logger.LogWarning("{Path}: {Error}", path, error);
            return error;
        }
    }

    /// <summary>Classifies a decoded chunk's readable images in one batch; unreadable files are rows with a reason.</summary>
    private LabelRow[] Classify(DecodedChunk chunk)
    {
        var rows = new LabelRow[chunk.Paths.Length];
        var readable = chunk.Compact();
        if (readable.Length > 0)
        {
            var predictions = classifier.ClassifyResized(chunk.Pixels(readable.Length), [.. readable.Select(i => chunk.Sizes[i])], TimeSpan.FromTicks(chunk.ResizeTicks).TotalMilliseconds);
            for (var k = 0; k < readable.Length; k++)
            {
                var p = predictions[k];
                rows[readable[k]] = new LabelRow(chunk.Paths[readable[k]], p.LabelAt(minConfidence), p, null, null);
            }
        }

        for (var i = 0; i < rows.Length; i++)
        {
            rows[i] ??= chunk.Failed[i]!;
        }

        return rows;
    }

    /// <summary>
    /// Rows an earlier run wrote before it sorted them (interrupted, or the photo could not be sorted then): the photo is
    /// still at its path and not at its destination, so it is sorted now, to a new free name if the destination was taken
    /// meanwhile; a changed destination or error is recorded in a new row. Returns how many could not be sorted.
    /// </summary>
    private int FinishSorting(IReadOnlyDictionary<string, IReadOnlyList<string>> done, IReadOnlyList<string> labels, PhotoSorter sorter, LabelsCsv csv)
    {
        var destinationColumn = LabelsCsv.Column(labels, "destination");
        var errorColumn = LabelsCsv.Column(labels, "error");
        var labelColumn = LabelsCsv.Column(labels, "label");
        var notSorted = 0;
        foreach (var (path, fields) in done)
        {
            var destination = fields[destinationColumn];
            // A copy's destination may hold this photo's own copy, made before the run ended, or another file.
            if (destination.Length == 0 || !File.Exists(path) || (settings.Sort == SortMode.Copy && File.Exists(destination) && PhotoSorter.SameBytes(path, destination)))
            {
                continue;
            }

            var row = fields;
            IReadOnlyList<string> With(string newDestination, string error) =>
                [.. row.Select((field, column) => column == destinationColumn ? newDestination : column == errorColumn ? error : field)];
            if (File.Exists(destination))
            {
                // Taken by another file (a move's own rename was settled by Recover; a copy's own copy is skipped above).
                // The new name is recorded before the transfer, as a new photo's is, so a crash during it leaves a row
                // that names where the photo went.
                destination = sorter.Plan(path, fields[labelColumn]);
                row = With(destination, row[errorColumn]);
                csv.AppendFields(row);
            }

            var failed = TrySort(sorter, path, destination);
            if (failed is null)
            {
                logger.LogInformation("Finished sorting {Path} -> {Destination} (left over from an earlier run).", path, destination);
            }
            else
            {
                notSorted++;
            }

            if ((failed ?? "") != row[errorColumn])
            {
                csv.AppendFields(With(destination, failed ?? ""));
            }
        }

        return notSorted;
    }

    /// <summary>Every file under a folder (or the one image), in ordinal order, leaving out the sorted folder and temporary copies.</summary>
    private static IEnumerable<string> Enumerate(string source, string? outRoot)
    {
        if (File.Exists(source))
        {
            return [Path.GetFullPath(source)];
        }

        var skip = outRoot is null ? null : outRoot.TrimEnd(Path.DirectorySeparatorChar) + Path.DirectorySeparatorChar;
        return Directory.EnumerateFiles(Path.GetFullPath(source), "*", SearchOption.AllDirectories)
            .Where(f => (skip is null || !f.StartsWith(skip, StringComparison.Ordinal)) && !PhotoSorter.IsPartial(f))
            .Order(StringComparer.Ordinal);
    }
}
