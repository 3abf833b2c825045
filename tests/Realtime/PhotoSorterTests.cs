using System.Text.Json;
using DogsVsCats.Vision.Realtime.Labelling;
using Microsoft.Extensions.Logging.Abstractions;

namespace DogsVsCats.Vision.Tests.Realtime;

/// <summary>
/// Sorting in process, on small files. The recovery tests start from journals written as an interrupted run leaves
/// them, one per state a kill can leave a transfer in, so each branch of Recover runs every time.
/// </summary>
[Trait("Category", "Fast")]
public sealed class PhotoSorterTests : IDisposable
{
    private readonly TempDirectory temp = new();

    private string Out => Path.Combine(temp.Path, "sorted");

    private string Source => Path.Combine(temp.Path, "photos", "cat.1.jpg");

    private string Destination => Path.Combine(Out, "cat", "cat.1.jpg");

    private string Partial => Path.Combine(Out, "cat", ".cat.1.jpg.0123456789abcdef0123456789abcdef.partial");

    public void Dispose() => temp.Dispose();

    [Fact]
    public void Plan_NameTakenOnDiskOrEarlierInTheRun_NextFreeNumber()
    {
        Write(Destination, "already there");
        using var sorter = new PhotoSorter(Out, move: false, NullLogger.Instance);

        var first = sorter.Plan(Source, "cat");
        var second = sorter.Plan(Path.Combine(temp.Path, "other", "cat.1.jpg"), "cat");

        Assert.Equal(Path.Combine(Out, "cat", "cat.1 (2).jpg"), first);
        Assert.Equal(Path.Combine(Out, "cat", "cat.1 (3).jpg"), second);
        Assert.Equal(Path.Combine(Out, "uncertain", "dog.2.jpg"), sorter.Plan(Path.Combine(temp.Path, "dog.2.jpg"), "uncertain"));
    }

    [Theory]
    [InlineData("..")]
    [InlineData("")]
    [InlineData("a/b")]
    public void Plan_LabelThatIsNoFolderName_Throws(string label)
    {
        using var sorter = new PhotoSorter(Out, move: true, NullLogger.Instance);

        var error = Assert.Throws<InvalidOperationException>(() => sorter.Plan(Source, label));

        Assert.Contains("re-export the model", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Transfer_MoveOrCopy_SameBytesAtDestinationAndNoJournalOrPartialLeft(bool move)
    {
        Write(Source, "photo bytes");
        using (var sorter = new PhotoSorter(Out, move, NullLogger.Instance))
        {
            sorter.Transfer(Source, sorter.Plan(Source, "cat"));
        }

        Assert.Equal("photo bytes", File.ReadAllText(Destination));
        Assert.Equal(!move, File.Exists(Source));
        Assert.Equal([Destination], Directory.GetFiles(Out, "*", SearchOption.AllDirectories));
    }

    [Fact]
    public void Transfer_DestinationTaken_ThrowsReplacesNothingAndRecoverCleansUp()
    {
        Write(Source, "photo bytes");
        Write(Destination, "someone else's");
        using (var sorter = new PhotoSorter(Out, move: true, NullLogger.Instance))
        {
            Assert.Throws<IOException>(() => sorter.Transfer(Source, Destination));
        }

        Assert.Equal("someone else's", File.ReadAllText(Destination));
        Assert.Equal("photo bytes", File.ReadAllText(Source));
        Assert.True(File.Exists(Path.Combine(Out, PhotoSorter.JournalName)), "the journal of a failed transfer must stay for Recover");

        using (var rerun = new PhotoSorter(Out, move: true, NullLogger.Instance))
        {
            rerun.Recover();
        }

        Assert.Equal([Destination], Directory.GetFiles(Out, "*", SearchOption.AllDirectories));
        Assert.Equal("photo bytes", File.ReadAllText(Source));
    }

    [Fact]
    public void Recover_MoveRenamedButSourceNotYetDeleted_DeletesTheSource()
    {
        Write(Source, "photo bytes");
        Write(Destination, "photo bytes");
        Journal(Begin(move: true));

        Recover(move: true);

        Assert.False(File.Exists(Source));
        Assert.Equal("photo bytes", File.ReadAllText(Destination));
        Assert.False(File.Exists(Path.Combine(Out, PhotoSorter.JournalName)));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Transfer_SourceGoneSinceItWasPlanned_ThrowsLeavesNothingInOutAndRecoverKeepsItThatWay(bool move)
    {
        // Labelled, then deleted (or its share gone) before its turn to be sorted.
        Write(Source, "photo bytes");
        var other = Path.Combine(temp.Path, "photos", "dog.2.jpg");
        Write(other, "another photo");
        using (var sorter = new PhotoSorter(Out, move, NullLogger.Instance))
        {
            var destination = sorter.Plan(Source, "cat");
            File.Delete(Source);

            Assert.Throws<FileNotFoundException>(() => sorter.Transfer(Source, destination));
            sorter.Transfer(other, sorter.Plan(other, "dog"));   // the sorter goes on with the next photo
        }

        Recover(move);

        Assert.Equal([Path.Combine(Out, "dog", "dog.2.jpg")], Directory.GetFiles(Out, "*", SearchOption.AllDirectories));
        Assert.Equal(!move, File.Exists(other));
    }

    [Fact]
    public void Recover_MoveWhoseDestinationHasTheSizeButNotTheBytesOfTheSource_KeepsTheSource()
    {
        // Killed after the journal's begin, before the copy; then another file of the very same size took the name.
        Write(Source, "photo bytes");
        Write(Destination, "other bytes");
        Journal(Begin(move: true));

        Recover(move: true);

        Assert.Equal("photo bytes", File.ReadAllText(Source));
        Assert.Equal("other bytes", File.ReadAllText(Destination));
    }

    [Theory]
    [InlineData("photo bytes", "photo bytes", true)]
    [InlineData("photo bytes", "other bytes", false)]
    [InlineData("photo bytes", "photo bytes and more", false)]
    [InlineData("", "", true)]
    public void SameBytes_TwoFiles_TrueOnlyForEqualContent(string a, string b, bool expected)
    {
        var first = Path.Combine(temp.Path, "a");
        var second = Path.Combine(temp.Path, "b");
        Write(first, a);
        Write(second, b);

        Assert.Equal(expected, PhotoSorter.SameBytes(first, second));
    }

    [Fact]
    public void SameBytes_FilesLongerThanOneBufferDifferingInTheLastByte_False()
    {
        var bytes = new byte[(1 << 16) + 3];
        new Random(1).NextBytes(bytes);
        var first = Path.Combine(temp.Path, "a");
        var second = Path.Combine(temp.Path, "b");
        File.WriteAllBytes(first, bytes);
        bytes[^1] ^= 1;
        File.WriteAllBytes(second, bytes);

        Assert.False(PhotoSorter.SameBytes(first, second));
    }

    [Fact]
    public void Recover_CopyRenamed_KeepsSourceAndCopy()
    {
        Write(Source, "photo bytes");
        Write(Destination, "photo bytes");
        Journal(Begin(move: false));

        Recover(move: false);

        Assert.Equal("photo bytes", File.ReadAllText(Source));
        Assert.Equal("photo bytes", File.ReadAllText(Destination));
    }

    [Fact]
    public void Recover_MoveWhoseDestinationIsNotACopyOfTheSource_KeepsTheSource()
    {
        // The destination name is held by a file of another size: not this photo's finished copy, so the photo stays.
        Write(Source, "photo bytes");
        Write(Destination, "another photo, longer");
        Journal(Begin(move: true));

        Recover(move: true);

        Assert.Equal("photo bytes", File.ReadAllText(Source));
        Assert.Equal("another photo, longer", File.ReadAllText(Destination));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Recover_KilledWhileCopying_DeletesThePartialCopyAndKeepsTheSource(bool move)
    {
        Write(Source, "photo bytes");
        Write(Partial, "photo");
        Journal(Begin(move));

        Recover(move);

        Assert.Equal("photo bytes", File.ReadAllText(Source));
        Assert.Empty(Directory.GetFiles(Out, "*", SearchOption.AllDirectories));
    }

    [Fact]
    public void Recover_PartialCopyLeftWhileAnotherFileOfTheSameSizeHoldsTheName_KeepsTheSource()
    {
        // The partial copy proves the rename never happened, however alike the file at the destination looks.
        Write(Source, "photo bytes");
        Write(Partial, "photo bytes");
        Write(Destination, "other bytes");
        Journal(Begin(move: true));

        Recover(move: true);

        Assert.Equal("photo bytes", File.ReadAllText(Source));
        Assert.Equal([Destination], Directory.GetFiles(Out, "*", SearchOption.AllDirectories));
    }

    [Fact]
    public void Recover_KilledBeforeTheCopyStarted_LeavesTheSource()
    {
        Write(Source, "photo bytes");
        Journal(Begin(move: true));

        Recover(move: true);

        Assert.Equal("photo bytes", File.ReadAllText(Source));
        Assert.Empty(Directory.GetFiles(Out, "*", SearchOption.AllDirectories));
    }

    [Fact]
    public void Recover_MoveFinishedButItsEndNotJournalled_KeepsTheDestination()
    {
        Write(Destination, "photo bytes");
        Journal(Begin(move: true));

        Recover(move: true);

        Assert.Equal("photo bytes", File.ReadAllText(Destination));
        Assert.Equal([Destination], Directory.GetFiles(Out, "*", SearchOption.AllDirectories));
    }

    [Fact]
    public void Recover_EndedTransferAndACutLastLine_TouchesNothing()
    {
        // An ended transfer whose name a later, unrelated file reuses, then a line cut by the kill.
        Write(Source, "fresh photo");   // as long as the moved one: only the journal says it is not that photo
        Write(Destination, "photo bytes");
        Journal(Begin(move: true), Begin(move: true) with { Step = "end" });
        File.AppendAllText(Path.Combine(Out, PhotoSorter.JournalName), "{\"Step\":\"beg");

        Recover(move: true);

        Assert.Equal("fresh photo", File.ReadAllText(Source));
        Assert.Equal("photo bytes", File.ReadAllText(Destination));
        Assert.False(File.Exists(Path.Combine(Out, PhotoSorter.JournalName)));
    }

    private static void Write(string path, string text)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
    }

    private Entry Begin(bool move) => new("begin", move, Source, Partial, Destination);

    /// <summary>Journal lines as <see cref="PhotoSorter.Transfer"/> writes them.</summary>
    private void Journal(params Entry[] entries)
    {
        Directory.CreateDirectory(Out);
        File.WriteAllLines(Path.Combine(Out, PhotoSorter.JournalName), entries.Select(e => JsonSerializer.Serialize(e)));
    }

    private void Recover(bool move)
    {
        using var sorter = new PhotoSorter(Out, move, NullLogger.Instance);
        sorter.Recover();
    }

    private sealed record Entry(string Step, bool Move, string Source, string Partial, string Destination);
}
