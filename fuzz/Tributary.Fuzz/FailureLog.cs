using Microsoft.Extensions.Logging;

namespace Tributary.Fuzz;

/// <summary>
/// The loggers a fuzzed broker writes to. The broker turns a handler's unexpected exception into an error answer and
/// an Error entry (the dispatcher's event 100), so an Error or worse logged while one input ran is a bug the fuzzer
/// reports, just like an exception that escapes. Lower levels are not even formatted.
/// </summary>
public sealed class FailureLog : ILoggerFactory
{
    private readonly List<string> _failures = [];

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void AddProvider(ILoggerProvider provider)
    {
    }

    /// <summary>Throws <see cref="FuzzFailureException"/> naming the first Error entry, if any was logged.</summary>
    public void ThrowIfFailed()
    {
        lock (_failures)
        {
            if (_failures.Count > 0)
            {
                throw new FuzzFailureException($"{_failures.Count} error(s) logged; the first: {_failures[0]}");
            }
        }
    }

    public void Dispose()
    {
    }

    private sealed class Logger(FailureLog owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Error;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel))
            {
                return;
            }

            lock (owner._failures)
            {
                owner._failures.Add($"{category} event {eventId.Id}: {formatter(state, exception)}{(exception is null ? "" : Environment.NewLine + exception)}");
            }
        }
    }
}
