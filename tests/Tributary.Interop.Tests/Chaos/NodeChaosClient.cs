using Tributary.Interop.Tests.Support;

namespace Tributary.Interop.Tests.Chaos;

/// <summary>
/// A kafkajs script of the fault workload (tests/interop-js/chaos-*.mjs) as one long-running node process: each line
/// of its standard output goes to a handler as it is read, until the workload stops it with SIGTERM (the script ends
/// what it is doing, then exits) or it ends on its own.
/// </summary>
public static class NodeChaosClient
{
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan LineWaitMax = TimeSpan.FromHours(1);

    /// <param name="logFile">The process's standard output and error, kept with the brokers' logs.</param>
    public static async Task RunAsync(string script, IEnumerable<string> arguments, string logFile, Action<string> handleLine,
        Action<string> countError, CancellationToken stop)
    {
        await using var process = NodeRunner.StartLogged(script, logFile, arguments);
        var reading = ReadAsync(process, handleLine);
        try
        {
            await reading.WaitAsync(stop);

            // Ended on its own: done, or crashed, after which it records nothing more (a test waiting for its
            // acknowledgements fails and shows this count).
            countError(script + " ended before the stop");
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            try
            {
                await process.TerminateAsync(StopTimeout);
            }
            catch (TimeoutException)
            {
                // Killed: what it had in flight stays pending, which the history checker takes as unknown.
                countError(script + " did not stop");
            }

            await reading;
        }
    }

    private static async Task ReadAsync(ChildProcess process, Action<string> handleLine)
    {
        while (true)
        {
            string line;
            try
            {
                line = await process.WaitForLineAsync(_ => true, LineWaitMax);
            }
            catch (InvalidOperationException)
            {
                // Its output ended.
                return;
            }

            if (line.StartsWith('{'))
            {
                handleLine(line);
            }
        }
    }
}
