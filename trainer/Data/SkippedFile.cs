namespace DogsVsCats.Vision.Trainer.Data;

/// <summary>A file left out of training, with a reason a person can act on.</summary>
internal sealed record SkippedFile(string Path, string Reason);
