using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;

namespace Tributary.Server.Hosting;

/// <summary>
/// The lines of the console logger's simple format with <c>SingleLine</c> set, written without its dependency-injection
/// set-up (<see cref="ConsoleLogging"/>): <c>16:26:26.047 info: Category[120] Message</c>, the exception after the message,
/// every line break replaced by a space, the level coloured when standard output is a terminal. Scopes are not
/// written (the broker's console logger never included them).
/// </summary>
internal sealed class SingleLineConsoleFormatter(string? timestampFormat, TimeProvider time, Func<bool> colors) : ConsoleFormatter(FormatterName)
{
    public const string FormatterName = "tributary-single-line";

    // The ANSI escapes of the simple format's level colours: background, then foreground; both reset after the level.
    private const string ColorReset = "\u001b[39m\u001b[22m\u001b[49m";

    public override void Write<TState>(in LogEntry<TState> logEntry, IExternalScopeProvider? scopeProvider, TextWriter textWriter)
    {
        var message = logEntry.Formatter(logEntry.State, logEntry.Exception);
        if (logEntry.Exception is null && message is null)
        {
            return;
        }

        if (timestampFormat is not null)
        {
            textWriter.Write(time.GetLocalNow().ToString(timestampFormat, CultureInfo.CurrentCulture));
        }

        var (level, color) = Level(logEntry.LogLevel);
        if (colors())
        {
            textWriter.Write(color);
            textWriter.Write(level);
            textWriter.Write(ColorReset);
        }
        else
        {
            textWriter.Write(level);
        }

        textWriter.Write(": ");
        textWriter.Write(logEntry.Category);
        textWriter.Write('[');
        textWriter.Write(logEntry.EventId.Id.ToString(CultureInfo.InvariantCulture));
        textWriter.Write(']');
        WriteOnOneLine(textWriter, message);
        WriteOnOneLine(textWriter, logEntry.Exception?.ToString());
        textWriter.Write(Environment.NewLine);
    }

    private static void WriteOnOneLine(TextWriter textWriter, string? text)
    {
        if (!string.IsNullOrEmpty(text))
        {
            textWriter.Write(' ');
            textWriter.Write(text.Replace(Environment.NewLine, " ", StringComparison.Ordinal));
        }
    }

    private static (string Level, string Color) Level(LogLevel level) => level switch
    {
        LogLevel.Trace => ("trce", "\u001b[40m\u001b[37m"),
        LogLevel.Debug => ("dbug", "\u001b[40m\u001b[37m"),
        LogLevel.Information => ("info", "\u001b[40m\u001b[32m"),
        LogLevel.Warning => ("warn", "\u001b[40m\u001b[1m\u001b[33m"),
        LogLevel.Error => ("fail", "\u001b[41m\u001b[30m"),
        LogLevel.Critical => ("crit", "\u001b[41m\u001b[1m\u001b[37m"),
        _ => throw new ArgumentOutOfRangeException(nameof(level)),
    };
}
