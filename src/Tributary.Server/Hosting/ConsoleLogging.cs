using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;

namespace Tributary.Server.Hosting;

/// <summary>
/// The standalone broker's console logger: Microsoft's console logger provider (its bounded queue and writer thread)
/// with one-line entries (<see cref="SingleLineConsoleFormatter"/>) at a minimum level.
/// Built by hand rather than with <c>LoggerFactory.Create(b => b.AddSimpleConsole(...))</c>: that builds a dependency
/// injection container whose generic types the Native AOT runtime constructs at start, about a fifth of the CPU time
/// to the first answer, for the same lines.
/// </summary>
public static class ConsoleLogging
{
    /// <summary>The time of day each line starts with, local time to the millisecond.</summary>
    public const string TimestampFormat = "HH:mm:ss.fff ";

    public static ILoggerFactory CreateLoggerFactory(LogLevel minimumLevel)
    {
        var options = new ConsoleLoggerOptions { FormatterName = SingleLineConsoleFormatter.FormatterName };
        var formatter = new SingleLineConsoleFormatter(TimestampFormat, TimeProvider.System, static () => !Console.IsOutputRedirected);
        var provider = new ConsoleLoggerProvider(new FixedOptions(options), [formatter]);
        return new LoggerFactory([provider], new LoggerFilterOptions { MinLevel = minimumLevel });
    }

    /// <summary>
    /// Writes one entry to standard output at once, as the console logger would: for the last line before the process
    /// exits, which the logger's writer thread may not reach in time on a loaded machine (disposing it waits 1.5 s at most).
    /// </summary>
    public static void WriteNow(LogLevel level, string category, string message)
    {
        var formatter = new SingleLineConsoleFormatter(TimestampFormat, TimeProvider.System, static () => !Console.IsOutputRedirected);
        formatter.Write(new LogEntry<string>(level, category, default, message, null, static (m, _) => m), null, Console.Out);
        Console.Out.Flush();
    }

    // Options that never change: the console logger reads them once and subscribes to no reload.
    private sealed class FixedOptions(ConsoleLoggerOptions options) : IOptionsMonitor<ConsoleLoggerOptions>
    {
        public ConsoleLoggerOptions CurrentValue => options;

        public ConsoleLoggerOptions Get(string? name) => options;

        public IDisposable? OnChange(Action<ConsoleLoggerOptions, string?> listener) => null;
    }
}
