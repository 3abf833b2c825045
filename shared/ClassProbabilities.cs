using System.Numerics;

namespace DogsVsCats.Vision.Shared;

/// <summary>The one reading of a model's class probabilities that both programs make: which class it picks.</summary>
public static class ClassProbabilities
{
    /// <summary>The index of the most probable class, the first on a tie: the label the app shows and the report scores.</summary>
    public static int TopIndex<T>(ReadOnlySpan<T> probabilities)
        where T : INumber<T>
    {
        var best = 0;
        for (var i = 1; i < probabilities.Length; i++)
        {
            best = probabilities[i] > probabilities[best] ? i : best;
        }

        return best;
    }
}
