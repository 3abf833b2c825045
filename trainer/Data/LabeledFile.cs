namespace DogsVsCats.Vision.Trainer.Data;

/// <summary>An image path and the index of its class in <see cref="DatasetSplit.Classes"/>.</summary>
internal sealed record LabeledFile(string Path, int Label);
