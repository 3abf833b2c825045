namespace DogsVsCats.Vision.Shared;

/// <summary>CSV fields as RFC 4180 writes them, for every CSV file the programs write.</summary>
public static class CsvText
{
    /// <summary>The field as it is, or quoted with its quotes doubled when it holds a comma, quote or line break.</summary>
    public static string Quote(string field)
    {
        ArgumentNullException.ThrowIfNull(field);
        return field.AsSpan().IndexOfAny(",\"\n\r") >= 0 ? $"\"{field.Replace("\"", "\"\"", StringComparison.Ordinal)}\"" : field;
    }
}
