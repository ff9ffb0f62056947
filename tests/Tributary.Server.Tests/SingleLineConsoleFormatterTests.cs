using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;
using Tributary.Server.Hosting;

namespace Tributary.Server.Tests;

/// <summary>
/// The serve command's console lines (<see cref="ConsoleLogging"/>) are the ones Microsoft's simple console formatter
/// writes with SingleLine set: the formatter built through its DI set-up is the reference, entry by entry.
/// </summary>
public sealed class SingleLineConsoleFormatterTests
{
    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }

    private static ConsoleFormatter Reference(bool colors)
    {
        var services = new ServiceCollection()
            .AddLogging(b => b.AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.TimestampFormat = null;
                o.ColorBehavior = colors ? LoggerColorBehavior.Enabled : LoggerColorBehavior.Disabled;
            }))
            .BuildServiceProvider();
        return services.GetServices<ConsoleFormatter>().Single(f => f.Name == ConsoleFormatterNames.Simple);
    }

    private static string Write(ConsoleFormatter formatter, LogLevel level, string message, Exception? exception)
    {
        var entry = new LogEntry<string>(level, "Tributary.Broker.BrokerCore", new EventId(135, "Name"), message, exception, (m, _) => m);
        using var writer = new StringWriter();
        formatter.Write(entry, null, writer);
        return writer.ToString();
    }

    public static TheoryData<LogLevel, bool> LevelsWithAndWithoutColors()
    {
        var data = new TheoryData<LogLevel, bool>();
        foreach (var level in new[] { LogLevel.Trace, LogLevel.Debug, LogLevel.Information, LogLevel.Warning, LogLevel.Error, LogLevel.Critical })
        {
            data.Add(level, false);
            data.Add(level, true);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(LevelsWithAndWithoutColors))]
    public void EachLevelIsWrittenAsTheSimpleFormatterWritesIt(LogLevel level, bool colors)
    {
        var ours = new SingleLineConsoleFormatter(null, TimeProvider.System, () => colors);
        var reference = Reference(colors);

        Assert.Equal(Write(reference, level, "Loaded 0 partitions", null), Write(ours, level, "Loaded 0 partitions", null));
    }

    [Fact]
    public void AMultiLineMessageAndAnExceptionStayOnOneLine()
    {
        var ours = new SingleLineConsoleFormatter(null, TimeProvider.System, () => false);
        var reference = Reference(colors: false);
        InvalidOperationException thrown;
        try
        {
            throw new InvalidOperationException($"first{Environment.NewLine}second");
        }
        catch (InvalidOperationException e)
        {
            thrown = e;
        }

        var line = Write(ours, LogLevel.Error, $"cannot open{Environment.NewLine}the segment", thrown);

        Assert.Equal(Write(reference, LogLevel.Error, $"cannot open{Environment.NewLine}the segment", thrown), line);
        Assert.Single(line.Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("first second", line, StringComparison.Ordinal);
    }

    [Fact]
    public void EachLineStartsWithTheLocalTimeToTheMillisecond()
    {
        var now = new DateTimeOffset(2026, 12, 7, 16, 26, 26, 47, TimeSpan.Zero);
        var ours = new SingleLineConsoleFormatter(ConsoleLogging.TimestampFormat, new FixedClock(now), () => false);

        var line = Write(ours, LogLevel.Information, "Stopped cleanly", null);

        var local = TimeZoneInfo.ConvertTime(now, TimeZoneInfo.Local);
        Assert.Equal($"{local:HH:mm:ss.fff} info: Tributary.Broker.BrokerCore[135] Stopped cleanly{Environment.NewLine}", line);
    }

    [Fact]
    public void TheFactoryLogsAtTheMinimumLevelAndAbove()
    {
        using var factory = ConsoleLogging.CreateLoggerFactory(LogLevel.Information);
        var logger = factory.CreateLogger("Tributary");

        Assert.False(logger.IsEnabled(LogLevel.Debug));
        Assert.True(logger.IsEnabled(LogLevel.Information));
        Assert.True(logger.IsEnabled(LogLevel.Critical));
    }
}
