namespace DogsVsCats.Vision.Trainer.Data;

/// <summary>The dataset cannot be used as given; the message says what is wrong and what to do about it.</summary>
internal sealed class DatasetException(string message) : Exception(message);
