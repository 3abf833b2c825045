using System.CommandLine;
using System.CommandLine.Parsing;

namespace DogsVsCats.Vision.Shared;

/// <summary>
/// Runs a program's command line. A parse error (a number that is not one, a value outside an option's choices, an
/// unknown or missing option) exits <see cref="ExitCodes.BadInput"/> like every other wrong option, one line per error
/// naming its option; System.CommandLine alone exits 1 and prints the whole help text after the error.
/// </summary>
public static class CommandLineRun
{
    /// <param name="invocation">How to run what was parsed (null: System.CommandLine's defaults).</param>
    public static Task<int> InvokeAsync(RootCommand root, IReadOnlyList<string> args, TextWriter? error = null, Func<ParseResult, InvocationConfiguration?>? invocation = null)
    {
        ArgumentNullException.ThrowIfNull(root);
        var parsed = root.Parse(args);
        if (parsed.Errors.Count == 0)
        {
            return parsed.InvokeAsync(invocation?.Invoke(parsed));
        }

        error ??= Console.Error;
        foreach (var problem in parsed.Errors)
        {
            error.WriteLine($"error: {Describe(problem)}");
        }

        var command = new List<string>();
        for (SymbolResult? result = parsed.CommandResult; result is not null; result = result.Parent)
        {
            if (result is CommandResult { Command: var c })
            {
                command.Insert(0, c.Name);
            }
        }

        error.WriteLine($"See '{string.Join(' ', command)} --help'.");
        return Task.FromResult(ExitCodes.BadInput);
    }

    /// <summary>The error on one line, starting with its option's name where the parser's text leaves it out.</summary>
    public static string Describe(ParseError error)
    {
        ArgumentNullException.ThrowIfNull(error);
        var message = string.Join(' ', error.Message.Split(['\r', '\n', '\t'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        // A value outside the choices reads "Argument 'tpu' not recognized. Must be one of: ...": the option is only in its result.
        for (var result = error.SymbolResult; result is not null; result = result.Parent)
        {
            if (result is OptionResult { Option: var option })
            {
                return message.Contains(option.Name, StringComparison.Ordinal) ? message : $"{option.Name}: {message}";
            }
        }

        return message;
    }
}
