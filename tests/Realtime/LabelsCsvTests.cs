using System.Text;
using DogsVsCats.Vision.Realtime.Inference;
using DogsVsCats.Vision.Realtime.Labelling;

namespace DogsVsCats.Vision.Tests.Realtime;

[Trait("Category", "Fast")]
public sealed class LabelsCsvTests : IDisposable
{
    private static readonly string[] Labels = ["cat", "dog"];
    private readonly TempDirectory temp = new();

    private string CsvPath => Path.Combine(temp.Path, "labels.csv");

    public void Dispose() => temp.Dispose();

    public static TheoryData<string> OddNames() => new()
    {
        "new\nline.jpg",
        "carriage\rreturn.jpg",
        "comma, in it.jpg",
        "say \"cheese\".jpg",
        " leading space.jpg",
        "chat-é-猫.jpg",
        "\"quoted\",\n all of them .jpg",
    };

    [Theory]
    [MemberData(nameof(OddNames))]
    public void Read_RowsWithOddFileNames_ReadsBackEveryRowAsWritten(string name)
    {
        var rows = new[]
        {
            Row(Path.Combine(temp.Path, "before.jpg")),
            Row(Path.Combine(temp.Path, name), destination: Path.Combine(temp.Path, "sorted", "cat", name)),
            LabelRow.Failed(Path.Combine(temp.Path, "x" + name), "empty file, \"0\" bytes\nreally"),
            Row(Path.Combine(temp.Path, "after.jpg")),
        };
        using (var csv = LabelsCsv.Open(CsvPath, Labels))
        {
            csv.Append(rows);
        }

        var read = LabelsCsv.Read(CsvPath, Labels);

        Assert.Equal(rows.Select(r => r.Path).Order(StringComparer.Ordinal), read.Keys.Order(StringComparer.Ordinal));
        Assert.All(rows, r => Assert.Equal(LabelsCsv.Fields(r, Labels.Length), read[r.Path]));
    }

    [Fact]
    public void Open_AfterARowCutInsideAQuotedNewline_CutsItAndLaterRowsReadBack()
    {
        var first = Row(Path.Combine(temp.Path, "first.jpg"));
        using (var csv = LabelsCsv.Open(CsvPath, Labels))
        {
            csv.Append([first]);
        }

        // A kill mid-write: the row of a photo named "cut\nshort.jpg" ends right after the newline inside its quotes.
        File.AppendAllText(CsvPath, $"\"{Path.Combine(temp.Path, "cut")}\n", new UTF8Encoding(false));
        var next = Row(Path.Combine(temp.Path, "next.jpg"));
        using (var csv = LabelsCsv.Open(CsvPath, Labels))
        {
            csv.Append([next]);
        }

        var read = LabelsCsv.Read(CsvPath, Labels);

        Assert.Equal([first.Path, next.Path], read.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(LabelsCsv.Fields(next, Labels.Length), read[next.Path]);
    }

    [Fact]
    public void Open_HeaderOfAnotherModel_ThrowsSayingWhatToDo()
    {
        using (LabelsCsv.Open(CsvPath, ["bird", "fish"]))
        {
        }

        var error = Assert.Throws<InvalidOperationException>(() => LabelsCsv.Open(CsvPath, Labels));

        Assert.Contains("choose another --csv or --out", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_SamePathTwice_LastRowWins()
    {
        var path = Path.Combine(temp.Path, "photo.jpg");
        using (var csv = LabelsCsv.Open(CsvPath, Labels))
        {
            csv.Append([Row(path), Row(path, destination: "/sorted/cat/photo (2).jpg")]);
        }

        var read = LabelsCsv.Read(CsvPath, Labels);

        Assert.Equal("/sorted/cat/photo (2).jpg", Assert.Single(read).Value[LabelsCsv.Column(Labels, "destination")]);
    }

    private static LabelRow Row(string path, string? destination = null) =>
        new(path, "cat", new Prediction(Labels, [0.75f, 0.25f], 640, 480, 1, default), null, destination);
}
