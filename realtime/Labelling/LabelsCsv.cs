using System.Globalization;
using System.Text;
using DogsVsCats.Vision.Shared;

namespace DogsVsCats.Vision.Realtime.Labelling;

/// <summary>
/// labels.csv: path, label, confidence, one probability column per class (p_cat, p_dog, ...), width, height, error,
/// destination. Rows are appended and flushed to disk after every batch, so an interrupted run keeps what it did and a
/// rerun skips those files (the last row for a path wins).
/// </summary>
internal sealed class LabelsCsv : IDisposable
{
    private readonly StreamWriter writer;

    private readonly int classes;

    private LabelsCsv(StreamWriter writer, int classes) => (this.writer, this.classes) = (writer, classes);

    public static IReadOnlyList<string> Header(IReadOnlyList<string> labels) =>
        ["path", "label", "confidence", .. labels.Select(l => $"p_{l}"), "width", "height", "error", "destination"];

    /// <summary>
    /// Opens <paramref name="path"/> for appending; a new file gets the header, an existing one must have the same
    /// columns. A row cut short by a kill mid-write is cut off, so the next row starts a record of its own (the file
    /// it named is simply labelled again).
    /// </summary>
    public static LabelsCsv Open(string path, IReadOnlyList<string> labels)
    {
        var header = string.Join(',', Header(labels).Select(CsvText.Quote));
        var exists = File.Exists(path) && new FileInfo(path).Length > 0;
        long complete = 0;
        if (exists)
        {
            var bytes = File.ReadAllBytes(path);
            complete = CompleteLength(bytes);
            var first = Records(Encoding.UTF8.GetString(bytes)).FirstOrDefault().Text ?? "";
            if (first != header)
            {
                throw new InvalidOperationException($"{path} has other columns than this model's ({first}); choose another --csv or --out for this model.");
            }
        }

        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.Write, FileShare.Read);
        try
        {
            if (stream.Length > complete)
            {
                stream.SetLength(complete);
            }

            stream.Seek(0, SeekOrigin.End);
        }
        catch
        {
            stream.Dispose();
            throw;
        }

#pragma warning disable CA2000 // the writer owns the stream, and the LabelsCsv returned owns the writer
        var csv = new LabelsCsv(new StreamWriter(stream, new UTF8Encoding(false)) { NewLine = "\n" }, labels.Count);
#pragma warning restore CA2000
        if (complete == 0)
        {
            csv.writer.WriteLine(header);   // a new file, or one whose header line was cut
        }

        return csv;
    }

    /// <summary>
    /// The rows already written, by path (the last row for a path wins); empty when the file does not exist. A record
    /// ends at a newline outside quotes, so a quoted path that holds a newline is read back whole.
    /// </summary>
    public static IReadOnlyDictionary<string, IReadOnlyList<string>> Read(string path, IReadOnlyList<string> labels)
    {
        var width = Header(labels).Count;
        var rows = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        if (!File.Exists(path))
        {
            return rows;
        }

        foreach (var (text, ended) in Records(File.ReadAllText(path, Encoding.UTF8)).Skip(1))
        {
            // A record cut by a kill has an open quote or fewer fields than the header; its file is simply labelled again.
            var fields = ended ? Split(text) : null;
            if (fields is not null && fields.Count == width)
            {
                rows[fields[0]] = fields;
            }
        }

        return rows;
    }

    /// <summary>
    /// The records of a CSV text, each without its line end, and whether it ended (a newline outside quotes); only the
    /// last one can be unended.
    /// </summary>
    public static IEnumerable<(string Text, bool Ended)> Records(string text)
    {
        var start = 0;
        var quoted = false;
        for (var i = 0; i < text.Length; i++)
        {
            // A doubled quote inside quotes toggles twice: the state after it is right without looking ahead.
            if (text[i] == '"')
            {
                quoted = !quoted;
            }
            else if (text[i] == '\n' && !quoted)
            {
                var end = i > start && text[i - 1] == '\r' ? i - 1 : i;
                yield return (text[start..end], true);
                start = i + 1;
            }
        }

        if (start < text.Length)
        {
            yield return (text[start..], false);
        }
    }

    /// <summary>Bytes up to the end of the last record that ended ('"' and '\n' never occur inside a UTF-8 sequence).</summary>
    private static long CompleteLength(byte[] bytes)
    {
        long complete = 0;
        var quoted = false;
        for (var i = 0; i < bytes.Length; i++)
        {
            if (bytes[i] == '"')
            {
                quoted = !quoted;
            }
            else if (bytes[i] == '\n' && !quoted)
            {
                complete = i + 1;
            }
        }

        return complete;
    }

    /// <summary>Column index of a header name.</summary>
    public static int Column(IReadOnlyList<string> labels, string name) => Header(labels).ToList().IndexOf(name);

    /// <summary>Appends rows and forces them to disk before sorting acts on them.</summary>
    public void Append(IEnumerable<LabelRow> rows)
    {
        foreach (var row in rows)
        {
            writer.WriteLine(string.Join(',', Fields(row, classes).Select(CsvText.Quote)));
        }

        FlushToDisk();
    }

    /// <summary>
    /// Appends a row as <see cref="Read"/> gave it back, with its own fields (a resumed sort changes only the error and
    /// destination of a row written earlier, and keeps its prediction), and forces it to disk.
    /// </summary>
    public void AppendFields(IReadOnlyList<string> fields)
    {
        writer.WriteLine(string.Join(',', fields.Select(CsvText.Quote)));
        FlushToDisk();
    }

    public void Dispose() => writer.Dispose();

    private void FlushToDisk()
    {
        writer.Flush();
        ((FileStream)writer.BaseStream).Flush(flushToDisk: true);
    }

    /// <summary>The CSV fields of a row; a failed file has empty prediction columns, so every row has the header's width.</summary>
    public static IReadOnlyList<string> Fields(LabelRow row, int classes)
    {
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

    /// <summary>Splits one RFC 4180 record (quoted fields may hold commas, doubled quotes and line breaks).</summary>
    public static IReadOnlyList<string>? Split(string line)
    {
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
