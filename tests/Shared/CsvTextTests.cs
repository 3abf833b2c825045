using DogsVsCats.Vision.Shared;

namespace DogsVsCats.Vision.Tests.Shared;

[Trait("Category", "Fast")]
public sealed class CsvTextTests
{
    [Theory]
    [InlineData("cat.1.jpg", "cat.1.jpg")]
    [InlineData("a,b.jpg", "\"a,b.jpg\"")]
    [InlineData("say \"cat\"", "\"say \"\"cat\"\"\"")]
    [InlineData("two\nlines", "\"two\nlines\"")]
    [InlineData("", "")]
    public void Quote_Field_QuotedOnlyWhenItMustBe(string field, string expected) => Assert.Equal(expected, CsvText.Quote(field));
}
