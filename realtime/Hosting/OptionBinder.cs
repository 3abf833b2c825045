using System.Globalization;
using System.Reflection;
using Microsoft.Extensions.Configuration;

namespace DogsVsCats.Vision.Realtime.Hosting;

/// <summary>
/// Binds one options type from configuration section <see cref="Section"/>: appsettings.json, then environment
/// variables (DOGSVSCATS_REALTIME__MODEL, ...), then the command line, each overriding the one before. Every mode's
/// options live in that one section, each type taking only the keys it has. Choices (enums) are parsed here, once,
/// case-insensitively: the configuration binder would throw at the first unknown name, so each wrong value (and any
/// value the binder cannot convert) becomes a line in the error list instead, beside whatever the validators find.
/// </summary>
internal static class OptionBinder
{
    public const string Section = "Realtime";

    public static T Bind<T>(IConfiguration configuration, ICollection<string> errors)
        where T : class, new()
    {
        var options = new T();
        var properties = typeof(T).GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite).ToDictionary(p => p.Name, StringComparer.OrdinalIgnoreCase);
        // Only this type's keys: another mode's wrong value is that mode's error, not this one's.
        var values = configuration.GetSection(Section).AsEnumerable(makePathsRelative: true)
            .Where(v => v.Value is not null && properties.ContainsKey(v.Key))
            .ToDictionary(v => v.Key, v => v.Value, StringComparer.OrdinalIgnoreCase);
        foreach (var property in properties.Values.Where(p => p.PropertyType.IsEnum))
        {
            if (values.Remove(property.Name, out var text))
            {
                var names = Enum.GetNames(property.PropertyType).Select(n => n.ToLowerInvariant()).ToArray();
                // Only names count: Enum.TryParse alone would also take "2" or "cpu,cuda".
                var index = Array.FindIndex(names, n => string.Equals(n, text?.Trim(), StringComparison.OrdinalIgnoreCase));
                if (index >= 0)
                {
                    property.SetValue(options, Enum.GetValues(property.PropertyType).GetValue(index));
                }
                else
                {
                    errors.Add($"{OptionName(property.Name)} '{text}' is not one of {string.Join(", ", names)}.");
                }
            }
        }

        try
        {
            new ConfigurationBuilder().AddInMemoryCollection(values).Build().Bind(options);
        }
        catch (InvalidOperationException e)
        {
            errors.Add(e.Message);
        }

        return options;
    }

    /// <summary>The lower-case name a choice has on the command line.</summary>
    public static string Text<T>(T choice)
        where T : struct, Enum => choice.ToString().ToLowerInvariant();

    /// <summary>The command-line name of an options property: MinConfidence -> --min-confidence.</summary>
    public static string OptionName(string property)
    {
        return "--" + string.Concat(property.Select((c, i) => char.IsUpper(c) && i > 0 ? "-" + char.ToLowerInvariant(c).ToString(CultureInfo.InvariantCulture) : char.ToLowerInvariant(c).ToString(CultureInfo.InvariantCulture)));
    }
}
