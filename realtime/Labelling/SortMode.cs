namespace DogsVsCats.Vision.Realtime.Labelling;

/// <summary>What folder mode does with each photo after labelling it (--sort).</summary>
internal enum SortMode
{
    /// <summary>Leave it where it is.</summary>
    None,

    /// <summary>Copy it into Out/&lt;label&gt;/; the source stays.</summary>
    Copy,

    /// <summary>Move it into Out/&lt;label&gt;/ (journalled, so an interrupted move loses nothing).</summary>
    Move,
}
