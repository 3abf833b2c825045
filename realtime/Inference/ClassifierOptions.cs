namespace DogsVsCats.Vision.Realtime.Inference;

/// <summary>What every mode shares: the model, where it runs, and the confidence below which a label is 'uncertain'.</summary>
internal sealed class ClassifierOptions
{
    /// <summary>The exported model.onnx (from 'trainer train' or 'trainer export').</summary>
    public string Model { get; set; } = "";

    /// <summary>auto, cpu or cuda.</summary>
    public InferenceDevice Device { get; set; } = InferenceDevice.Auto;

    /// <summary>ONNX Runtime intra-op threads; 0 lets ONNX Runtime use every core.</summary>
    public int Threads { get; set; }

    /// <summary>Below this (smoothed) probability the label is 'uncertain'.</summary>
    public double MinConfidence { get; set; } = 0.6;

    public void Validate(ICollection<string> errors)
    {
        if (string.IsNullOrWhiteSpace(Model))
        {
            errors.Add("--model is required: the model.onnx that 'trainer train' or 'trainer export' wrote.");
        }
        else if (!File.Exists(Model))
        {
            errors.Add($"--model '{Model}' does not exist. Train first ('trainer train') or export a checkpoint ('trainer export').");
        }

        if (Threads < 0)
        {
            errors.Add($"--threads {Threads} must be 0 (all cores) or more.");
        }

        if (MinConfidence is < 0 or > 1)
        {
            errors.Add($"--min-confidence {MinConfidence} must be between 0 and 1.");
        }
    }
}
