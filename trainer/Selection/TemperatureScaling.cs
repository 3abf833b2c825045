namespace DogsVsCats.Vision.Trainer.Selection;

/// <summary>What fitting a temperature did on validation, in-sample and 2-fold cross-fitted.</summary>
/// <param name="Temperature">Fitted on every validation photo: what the export folds in.</param>
/// <param name="LossBefore">Mean log loss at T = 1.</param>
/// <param name="LossAfter">Mean log loss at <paramref name="Temperature"/> (fitted on the same photos, so flattered).</param>
/// <param name="CrossFittedLoss">Each half's log loss at the temperature fitted on the other half, averaged over all photos.</param>
/// <param name="FoldTemperatures">The temperature each half gave.</param>
internal sealed record TemperatureFit(double Temperature, double LossBefore, double LossAfter, double CrossFittedLoss, IReadOnlyList<double> FoldTemperatures)
{
    /// <summary>
    /// The fitted temperature is kept only when it also helps photos it was not fitted on (cross-fitted loss below the
    /// loss at T = 1): on a few hundred photos a handful of confident mistakes can pull an in-sample fit far off. And
    /// never when the search stopped at one end of its range: with every photo right the loss falls all the way to
    /// T -> 0 (every probability 1), which says nothing about photos to come.
    /// </summary>
    public bool Kept => CrossFittedLoss < LossBefore && Temperature > TemperatureScaling.MinTemperature * 1.01 && Temperature < TemperatureScaling.MaxTemperature / 1.01;

    /// <summary>What the export folds in: the fitted temperature when kept, else 1.</summary>
    public double Applied => Kept ? Temperature : 1;

    /// <summary>The validation log loss at <see cref="Applied"/>.</summary>
    public double AppliedLoss => Kept ? LossAfter : LossBefore;
}

/// <summary>
/// One temperature T for the logits (softmax(z / T)), chosen to minimise the validation log loss: a 1-D golden-section
/// search on log T, which keeps T positive and treats 0.5 and 2 alike.
/// </summary>
internal static class TemperatureScaling
{
    public const double MinTemperature = 0.05;
    public const double MaxTemperature = 20;
    private const int Iterations = 80;

    public static TemperatureFit Fit(PredictionCandidate candidate, int seed = 42)
    {
        var all = Enumerable.Range(0, candidate.Count).ToArray();
        var temperature = Fit(candidate, all);
        var before = candidate.Losses(1).Average();
        var after = candidate.Losses(temperature).Average();

        // Two halves in a seeded random order: each half's loss at the temperature the other half chose.
        var order = (int[])all.Clone();
        new Random(seed).Shuffle(order);
        int[][] folds = [order[..(order.Length / 2)], order[(order.Length / 2)..]];
        var crossFitted = 0.0;
        var foldTemperatures = new List<double>();
        for (var f = 0; f < 2; f++)
        {
            var (fitOn, measureOn) = (folds[f], folds[1 - f]);
            var t = fitOn.Length > 0 ? Fit(candidate, fitOn) : 1;
            foldTemperatures.Add(t);
            var losses = candidate.Losses(t);
            crossFitted += measureOn.Sum(i => losses[i]);
        }

        return new TemperatureFit(temperature, before, after, crossFitted / Math.Max(1, candidate.Count), foldTemperatures);
    }

    /// <summary>The temperature that minimises the mean log loss over <paramref name="photos"/>.</summary>
    public static double Fit(PredictionCandidate candidate, IReadOnlyList<int> photos)
    {
        double Loss(double logT)
        {
            var losses = candidate.Losses(Math.Exp(logT));
            return photos.Sum(i => losses[i]);
        }

        var ratio = (Math.Sqrt(5) - 1) / 2;
        var (a, b) = (Math.Log(MinTemperature), Math.Log(MaxTemperature));
        var c = b - (ratio * (b - a));
        var d = a + (ratio * (b - a));
        var (fc, fd) = (Loss(c), Loss(d));
        for (var i = 0; i < Iterations; i++)
        {
            if (fc <= fd)
            {
                (b, d, fd) = (d, c, fc);
                c = b - (ratio * (b - a));
                fc = Loss(c);
            }
            else
            {
                (a, c, fc) = (c, d, fd);
                d = a + (ratio * (b - a));
                fd = Loss(d);
            }
        }

        return Math.Exp((a + b) / 2);
    }
}
