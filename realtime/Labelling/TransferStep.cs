namespace DogsVsCats.Vision.Realtime.Labelling;

/// <summary>
/// The points between the steps of one <see cref="PhotoSorter.Transfer"/>, in order: where a crash can leave a
/// transfer, and so where the recovery tests stop a real run (<see cref="PhotoSorter.CrashVariable"/>).
/// </summary>
internal enum TransferStep
{
    /// <summary>The photo's row is in labels.csv; the journal does not name it yet.</summary>
    BeforeBegin,

    /// <summary>The journal names the transfer; nothing is copied.</summary>
    AfterBegin,

    /// <summary>The hidden partial copy is written, not yet forced to disk or renamed.</summary>
    AfterCopy,

    /// <summary>The copy holds the destination name; a move's source is still there.</summary>
    AfterRename,

    /// <summary>A move's source is deleted; the journal does not yet say the transfer ended.</summary>
    BeforeEnd,
}
