using System.Diagnostics;
using System.Globalization;
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
public sealed class FolderLabellingService(
    IOptions<RealtimeOptions> options,
    Classifier classifier,
    RunOutcome outcome,
    IHostApplicationLifetime lifetime,
    ILogger<FolderLabellingService> logger) : BackgroundService
{
    private static readonly TimeSpan ProgressEvery = TimeSpan.FromSeconds(2);
    private readonly RealtimeOptions settings = options.Value;

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
        var sort = RealtimeOptions.Text(settings.Sort);
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
        if (sorter is not null && !settings.DryRun)
        {
            FinishSorting(done, labels, sorter, csv!);
        }

        using var decoders = new DecodeThreads(Environment.ProcessorCount);
        var ownFiles = new[] { csvPath, jsonlPath };
        var files = Enumerate(settings.Source, outRoot).Where(f => !ownFiles.Contains(f)).ToList();
        var todo = files.Where(f => !done.ContainsKey(f)).ToList();
        logger.LogInformation("{Files} files in {Source}; {Done} already in {Csv}, {Todo} to label{DryRun}.", files.Count, settings.Source, files.Count - todo.Count, csvPath, todo.Count, settings.DryRun ? " (dry run: nothing is written, copied or moved)" : "");

        using var jsonl = settings.DryRun || jsonlPath is null ? null : new PredictionJsonl(jsonlPath);
        var counts = new SortedDictionary<string, int>(StringComparer.Ordinal);
        var clock = Stopwatch.StartNew();
        var lastProgress = TimeSpan.Zero;
        var processed = 0;
        foreach (var chunk in todo.Chunk(settings.Batch))
        {
            if (stop.IsCancellationRequested)
            {
                logger.LogWarning("Stopped after {Processed} of {Todo} files; run the same command again to continue.", processed, todo.Count);
                break;
            }

            var rows = Classify(chunk, decoders);
            if (sorter is not null)
            {
                rows = rows.Select(r => r.Prediction is null ? r : r with { Destination = sorter.Plan(r.Path, r.Label) }).ToArray();
            }

            csv?.Append(rows);
            foreach (var row in rows)
            {
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
                    else
                    {
                        sorter!.Transfer(row.Path, row.Destination);
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
            sorter is null ? "" : $" Sorted ({sort}{(settings.DryRun ? ", dry run" : "")}) into {outRoot}; unreadable files stay where they are.");
    }

    /// <summary>Decodes in parallel, classifies the readable images in one batch; unreadable files become rows with a reason.</summary>
    private LabelRow[] Classify(string[] paths, DecodeThreads decoders)
    {
        var images = new Mat?[paths.Length];
        var rows = new LabelRow[paths.Length];
        try
        {
            decoders.For(paths.Length, i =>
            {
                if (!ImageFile.IsImagePath(paths[i]))
                {
                    rows[i] = LabelRow.Failed(paths[i], $"not an image file (extension '{Path.GetExtension(paths[i])}' is not one of {string.Join(", ", ImageFile.Extensions.Order(StringComparer.Ordinal))})");
                }
                else if (!ImageFile.TryRead(paths[i], out images[i], out var error))
                {
                    rows[i] = LabelRow.Failed(paths[i], error);
                }
            });

            var readable = Enumerable.Range(0, paths.Length).Where(i => images[i] is not null).ToArray();
            if (readable.Length > 0)
            {
                var predictions = classifier.Classify(readable.Select(i => images[i]!).ToArray());
                for (var k = 0; k < readable.Length; k++)
                {
                    var p = predictions[k];
                    rows[readable[k]] = new LabelRow(paths[readable[k]], p.LabelAt(settings.MinConfidence), p, null, null);
                }
            }

            return rows;
        }
        finally
        {
            foreach (var image in images)
            {
                image?.Dispose();
            }
        }
    }

    /// <summary>
    /// Rows an interrupted run wrote before it sorted them: the photo is still at its path and not at its destination,
    /// so it is sorted now (to a new free name, recorded in a new row, if the destination was taken meanwhile).
    /// </summary>
    private void FinishSorting(IReadOnlyDictionary<string, IReadOnlyList<string>> done, IReadOnlyList<string> labels, PhotoSorter sorter, LabelsCsv csv)
    {
        var destinationColumn = LabelsCsv.Column(labels, "destination");
        var labelColumn = LabelsCsv.Column(labels, "label");
        foreach (var (path, fields) in done)
        {
            var destination = fields[destinationColumn];
            if (destination.Length == 0 || !File.Exists(path) || (File.Exists(destination) && settings.Sort == SortMode.Copy))
            {
                continue;
            }

            if (File.Exists(destination))
            {
                // Taken by another file (the photo itself was never renamed there: Recover settled those).
                destination = sorter.Plan(path, fields[labelColumn]);
                csv.Append([new LabelRow(path, fields[labelColumn], null, null, destination)]);
            }

            sorter.Transfer(path, destination);
            logger.LogInformation("Finished sorting {Path} -> {Destination} (left over from an interrupted run).", path, destination);
        }
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
