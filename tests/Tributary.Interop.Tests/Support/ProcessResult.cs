namespace Tributary.Interop.Tests.Support;

/// <summary>How an external process ended. <see cref="StandardOutput"/> is empty when it went to a file.</summary>
public sealed record ProcessResult(int ExitCode, string StandardOutput, string StandardError, TimeSpan Elapsed)
{
    public string Describe() => $"exit {ExitCode} after {Elapsed.TotalSeconds:F1} s\nstdout (tail): {Tail(StandardOutput)}\nstderr (tail): {Tail(StandardError)}";

    private static string Tail(string text) => text.Length <= 4000 ? text : "…" + text[^4000..];
}
