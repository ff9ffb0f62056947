using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Tributary.Server.Tests;

/// <summary>A logger provider that keeps every entry's event id and message, for tests that check what was logged.</summary>
internal sealed class CapturedLog : ILoggerProvider
{
    public ConcurrentQueue<(int EventId, LogLevel Level, string Message)> Entries { get; } = new();

    public ILoggerFactory CreateFactory() => LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Debug).AddProvider(this));

    public int Count(int eventId) => Entries.Count(e => e.EventId == eventId);

    public ILogger CreateLogger(string categoryName) => new Logger(Entries);

    public void Dispose()
    {
    }

    private sealed class Logger(ConcurrentQueue<(int EventId, LogLevel Level, string Message)> entries) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            entries.Enqueue((eventId.Id, logLevel, formatter(state, exception)));
    }
}
