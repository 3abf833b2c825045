using DogsVsCats.Vision.Shared;

namespace DogsVsCats.Vision.Tests.Shared;

[Trait("Category", "Fast")]
public sealed class ClassProbabilitiesTests
{
    [Theory]
    [InlineData(new[] { 0.9f, 0.1f }, 0)]
    [InlineData(new[] { 0.2f, 0.8f }, 1)]
    [InlineData(new[] { 0.1f, 0.3f, 0.6f }, 2)]
    [InlineData(new[] { 0.5f, 0.5f }, 0)]
    [InlineData(new[] { 0.2f, 0.4f, 0.4f }, 1)]
    public void TopIndex_Probabilities_MostProbableFirstOnATie(float[] probabilities, int expected) =>
        Assert.Equal(expected, ClassProbabilities.TopIndex(probabilities));

    [Fact]
    public void TopIndex_DoubleRow_ReadsOnlyThatRow()
    {
        double[] rows = [0.9, 0.1, 0.3, 0.7];
        Assert.Equal(1, ClassProbabilities.TopIndex(rows.AsSpan(2, 2)));
    }
}
