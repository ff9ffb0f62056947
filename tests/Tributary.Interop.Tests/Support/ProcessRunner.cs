namespace Tributary.Interop.Tests.Support;

/// <summary>Runs an external process to completion within a time limit (killed by its own id past it).</summary>
public static class ProcessRunner
{
    public static async Task<ProcessResult> RunAsync(
        string fileName,
        IEnumerable<string> arguments,
        TimeSpan timeout,
        string? standardOutputFile = null,
        string? standardInputFile = null,
        string? workingDirectory = null,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        await using var process = ChildProcess.Start(fileName, arguments, standardOutputFile, standardInputFile, workingDirectory, environment);
        return await process.WaitForExitAsync(timeout).ConfigureAwait(false);
    }
}
