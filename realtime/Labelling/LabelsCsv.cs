using System.Globalization;
using System.Text;

namespace DogsVsCats.Vision.Realtime.Labelling;

/// <summary>
/// labels.csv: path, label, confidence, one probability column per class (p_cat, p_dog, ...), width, height, error,
/// destination. Rows are appended and flushed to disk after every batch, so an interrupted run keeps what it did and a
/// rerun skips those files (the last row for a path wins).
/// </summary>
public sealed class LabelsCsv : IDisposable
{
    private readonly StreamWriter writer;

    private readonly int classes;

    private LabelsCsv(StreamWriter writer, int classes) => (this.writer, this.classes) = (writer, classes);

    public static IReadOnlyList<string> Header(IReadOnlyList<string> labels) =>
        ["path", "label", "confidence", .. labels.Select(l => $"p_{l}"), "width", "height", "error", "destination"];

    /// <summary>Opens <paramref name="path"/> for appending; a new file gets the header, an existing one must have the same columns.</summary>
    public static LabelsCsv Open(string path, IReadOnlyList<string> labels)
    {
        var header = string.Join(',', Header(labels).Select(Quote));
        var exists = File.Exists(path) && new FileInfo(path).Length > 0;
        if (exists)
        {
            var first = File.ReadLines(path).FirstOrDefault() ?? "";
            if (first != header)
            {
                throw new InvalidOperationException($"{path} has other columns than this model's ({first}); choose another --csv or --out for this model.");
            }
        }

        var cut = exists && EndsWithoutNewline(path);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var stream = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read);
        var csv = new LabelsCsv(new StreamWriter(stream, new UTF8Encoding(false)) { NewLine = "\n" }, labels.Count);
        if (!exists)
        {
            csv.writer.WriteLine(header);
        }
        else if (cut)
        {
            // A kill mid-write leaves a cut line; end it so the next row starts on its own line (Read ignores the cut one).
            csv.writer.WriteLine();
        }

        return csv;
    }

    private static bool EndsWithoutNewline(string path)
    {
        using var stream = File.OpenRead(path);
        stream.Seek(-1, SeekOrigin.End);
        return stream.ReadByte() != '\n';
    }

    /// <summary>The rows already written, by path (the last row for a path wins); empty when the file does not exist.</summary>
    public static IReadOnlyDictionary<string, IReadOnlyList<string>> Read(string path, IReadOnlyList<string> labels)
    {
        ArgumentNullException.ThrowIfNull(labels);
        var width = Header(labels).Count;
        var rows = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        if (!File.Exists(path))
        {
            return rows;
        }

        foreach (var line in File.ReadLines(path).Skip(1))
        {
            // A line cut by a kill has fewer fields than the header; its file is simply labelled again.
            var fields = Split(line);
            if (fields is not null && fields.Count == width)
            {
                rows[fields[0]] = fields;
            }
        }

        return rows;
    }

    /// <summary>Column index of a header name.</summary>
    public static int Column(IReadOnlyList<string> labels, string name) => Header(labels).ToList().IndexOf(name);

    /// <summary>Appends rows and forces them to disk before sorting acts on them.</summary>
    public void Append(IEnumerable<LabelRow> rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        foreach (var row in rows)
        {
            writer.WriteLine(string.Join(',', Fields(row, classes).Select(Quote)));
        }

        writer.Flush();
        ((FileStream)writer.BaseStream).Flush(flushToDisk: true);
    }

    public void Dispose() => writer.Dispose();

    /// <summary>The CSV fields of a row; a failed file has empty prediction columns, so every row has the header's width.</summary>
    public static IReadOnlyList<string> Fields(LabelRow row, int classes)
    {
        ArgumentNullException.ThrowIfNull(row);
        var p = row.Prediction;
        static string Number(float value) => value.ToString("0.######", CultureInfo.InvariantCulture);
        return
        [
            row.Path,
            row.Label,
            p is null ? "" : Number(p.Confidence),
            .. p is null ? Enumerable.Repeat("", classes) : p.Probabilities.Select(Number),
            p is null ? "" : p.Width.ToString(CultureInfo.InvariantCulture),
            p is null ? "" : p.Height.ToString(CultureInfo.InvariantCulture),
            row.Error ?? "",
            row.Destination ?? "",
        ];
    }

    private static string Quote(string field) =>
        field.AsSpan().IndexOfAny(",\"\n\r") >= 0 ? $"\"{field.Replace("\"", "\"\"", StringComparison.Ordinal)}\"" : field;

    /// <summary>Splits one RFC 4180 line (quoted fields may hold commas and doubled quotes).</summary>
    public static IReadOnlyList<string>? Split(string line)
    {
        ArgumentNullException.ThrowIfNull(line);
        var fields = new List<string>();
        var field = new StringBuilder();
        var quoted = false;
        for (var i = 0; i < line.Length; i++)
        {
            var c = line[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < line.Length && line[i + 1] == '"')
                {
                    field.Append('"');
                    i++;
                }
                else if (c == '"')
                {
                    quoted = false;
                }
                else
                {
                    field.Append(c);
                }
            }
            else if (c == '"')
            {
                quoted = true;
            }
            else if (c == ',')
            {
                fields.Add(field.ToString());
                field.Clear();
            }
            else
            {
                field.Append(c);
            }
        }

        if (quoted)
        {
            return null;
        }

        fields.Add(field.ToString());
        return fields;
    }
}
