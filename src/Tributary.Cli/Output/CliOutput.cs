using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Spectre.Console;

namespace Tributary.Cli.Output;

/// <summary>
/// How a read command prints what it found: a Spectre table when stdout is a terminal; plain text, tab-separated
/// with a header line, when it is redirected (for grep, cut, awk); one JSON document with <c>--output json</c>,
/// through the source-generated <see cref="CliJsonContext"/> (no reflection, so the CLI can be published Native
/// AOT). No colour when NO_COLOR is set (no-color.org: any value) or stdout is redirected.
/// </summary>
internal sealed class CliOutput
{
    private readonly IAnsiConsole? _console;

    private CliOutput(bool json, IAnsiConsole? console)
    {
        IsJson = json;
        _console = console;
    }

    public bool IsJson { get; }

    /// <summary>True when tables are drawn for a terminal rather than written as tab-separated lines.</summary>
    public bool IsTerminal => _console is not null;

    public static CliOutput For(string? format)
    {
        var json = format == Commands.CommonOptions.JsonFormat;
        if (json || Console.IsOutputRedirected)
        {
            return new CliOutput(json, null);
        }

        var colour = string.IsNullOrEmpty(Environment.GetEnvironmentVariable("NO_COLOR"));
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = colour ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = colour ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Out = new AnsiConsoleOutput(Console.Out),
        });
        return new CliOutput(json, console);
    }

    public void Line(string text) => Console.Out.WriteLine(text);

    public void Table(IReadOnlyList<string> headers, IEnumerable<IReadOnlyList<string>> rows)
    {
        if (_console is null)
        {
            Console.Out.WriteLine(string.Join('\t', headers));
            foreach (var row in rows)
            {
                Console.Out.WriteLine(string.Join('\t', row));
            }

            return;
        }

        var table = new Table().Border(TableBorder.Simple);
        foreach (var header in headers)
        {
            table.AddColumn(new TableColumn(new Text(header, new Style(decoration: Decoration.Bold))));
        }

        foreach (var row in rows)
        {
            table.AddRow(row.Select(cell => (Spectre.Console.Rendering.IRenderable)new Text(cell)).ToArray());
        }

        _console.Write(table);
    }

    public static void Json<T>(T value, JsonTypeInfo<T> type) => Console.Out.WriteLine(JsonSerializer.Serialize(value, type));
}
