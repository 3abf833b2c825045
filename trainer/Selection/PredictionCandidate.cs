using DogsVsCats.Vision.Shared;
using DogsVsCats.Vision.Trainer.Export;
using DogsVsCats.Vision.Trainer.Results;

namespace DogsVsCats.Vision.Trainer.Selection;

/// <summary>
/// Something that could be exported, as its validation predictions: the mean over <see cref="Views"/> (models, and
/// each model's mirrored pass under test-time augmentation) of softmax(logits / T), exactly what its graph computes.
/// </summary>
internal sealed record PredictionCandidate
{
    /// <summary>Probabilities below this count as this in the log loss, so one confident mistake stays finite.</summary>
    private const double ProbabilityFloor = 1e-15;

    public PredictionCandidate(string name, TestTimeAugmentation tta, IReadOnlyList<ValidationPredictions> views)
    {
        if (views.Count == 0 || views.Any(v => v.Count != views[0].Count || v.Classes != views[0].Classes || !v.Truth.AsSpan().SequenceEqual(views[0].Truth)))
        {
            throw new ArgumentException($"Candidate '{name}' needs at least one view, all on the same photos.", nameof(views));
        }

        (Name, Tta, Views) = (name, tta, views);
    }

    /// <summary>A strategy's name, or "ensemble".</summary>
    public string Name { get; }

    public TestTimeAugmentation Tta { get; }

    public IReadOnlyList<ValidationPredictions> Views { get; }

    public int Count => Views[0].Count;

    public int Classes => Views[0].Classes;

    public int[] Truth => Views[0].Truth;

    /// <summary>Mean over the views of softmax(logits / temperature), [N, C].</summary>
    public double[] Probabilities(double temperature = 1)
    {
        var (n, c) = (Count, Classes);
        var probabilities = new double[n * c];
        var exps = new double[c];
        foreach (var view in Views)
        {
            for (var i = 0; i < n; i++)
            {
                var row = view.Row(i);
                var max = double.NegativeInfinity;
                for (var k = 0; k < c; k++)
                {
                    max = Math.Max(max, row[k] / temperature);
                }

                var sum = 0.0;
                for (var k = 0; k < c; k++)
                {
                    exps[k] = Math.Exp((row[k] / temperature) - max);
                    sum += exps[k];
                }

                for (var k = 0; k < c; k++)
                {
                    probabilities[(i * c) + k] += exps[k] / sum / Views.Count;
                }
            }
        }

        return probabilities;
    }

    /// <summary>Each photo's log loss, -log p(truth), at <paramref name="temperature"/>.</summary>
    public double[] Losses(double temperature = 1)
    {
        var p = Probabilities(temperature);
        return [.. Enumerable.Range(0, Count).Select(i => -Math.Log(Math.Max(ProbabilityFloor, p[(i * Classes) + Truth[i]])))];
    }

    /// <summary>1 where the most probable class is the true one, else 0 (for one view a temperature never changes it).</summary>
    public double[] Correct(double temperature = 1)
    {
        var p = Probabilities(temperature);
        var correct = new double[Count];
        for (var i = 0; i < Count; i++)
        {
            correct[i] = ClassProbabilities.TopIndex(p.AsSpan(i * Classes, Classes)) == Truth[i] ? 1 : 0;
        }

        return correct;
    }
}
