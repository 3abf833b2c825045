namespace DogsVsCats.Vision.Trainer.Results;

internal sealed record ClassMetrics(string Label, double Precision, double Recall, double F1, int Support);

/// <summary>Accuracy, per-class precision/recall/F1 and the confusion matrix, indexed [truth][predicted].</summary>
internal sealed record ClassificationMetrics(double Accuracy, IReadOnlyList<ClassMetrics> PerClass, int[][] ConfusionMatrix)
{
    /// <summary>Computes the metrics; a ratio with a zero denominator (e.g. a class never predicted) is 0.</summary>
    public static ClassificationMetrics Compute(IReadOnlyList<int> truth, IReadOnlyList<int> predicted, IReadOnlyList<string> classes)
    {
        if (truth.Count != predicted.Count)
        {
            throw new ArgumentException($"truth has {truth.Count} labels but predicted has {predicted.Count}.", nameof(predicted));
        }

        var n = classes.Count;
        var matrix = Enumerable.Range(0, n).Select(_ => new int[n]).ToArray();
        for (var i = 0; i < truth.Count; i++)
        {
            if ((uint)truth[i] >= (uint)n || (uint)predicted[i] >= (uint)n)
            {
                throw new ArgumentOutOfRangeException(nameof(truth), $"Label pair ({truth[i]}, {predicted[i]}) at {i} is outside 0..{n - 1}.");
            }

            matrix[truth[i]][predicted[i]]++;
        }

        var correct = 0;
        var perClass = new List<ClassMetrics>(n);
        for (var c = 0; c < n; c++)
        {
            var tp = matrix[c][c];
            var support = matrix[c].Sum();
            var predictedAsC = matrix.Sum(row => row[c]);
            var precision = Ratio(tp, predictedAsC);
            var recall = Ratio(tp, support);
            var f1 = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0;
            perClass.Add(new ClassMetrics(classes[c], precision, recall, f1, support));
            correct += tp;
        }

        return new ClassificationMetrics(Ratio(correct, truth.Count), perClass, matrix);
    }

    private static double Ratio(int numerator, int denominator) => denominator == 0 ? 0 : (double)numerator / denominator;
}
