using System.Text.Json;

namespace Tributary.Interop.Tests.Support;

/// <summary>Runs the kafkajs scripts of tests/interop-js with the real node; kafkajs comes from its package-lock.json.</summary>
public static class NodeRunner
{
    private static readonly Dictionary<string, string> Environment = new(StringComparer.Ordinal)
    {
        ["KAFKAJS_NO_PARTITIONER_WARNING"] = "1",
    };

    public static ChildProcess Start(string script, params string[] arguments)
    {
        EnsureInstalled();
        return ChildProcess.Start("node", [Path.Combine(RepositoryPaths.InteropJs, script), .. arguments], workingDirectory: RepositoryPaths.InteropJs, environment: Environment);
    }

    /// <summary>As <see cref="Start"/>, with standard output and error also appended to <paramref name="logFile"/> as they come.</summary>
    public static ChildProcess StartLogged(string script, string logFile, IEnumerable<string> arguments)
    {
        EnsureInstalled();
        return ChildProcess.Start("node", [Path.Combine(RepositoryPaths.InteropJs, script), .. arguments], workingDirectory: RepositoryPaths.InteropJs, environment: Environment, teeFile: logFile);
    }

    public static async Task<ProcessResult> RunAsync(string script, TimeSpan timeout, params string[] arguments)
    {
        await using var process = Start(script, arguments);
        return await process.WaitForExitAsync(timeout).ConfigureAwait(false);
    }

    /// <summary>The script's result: the last line of its output that is a JSON object.</summary>
    public static JsonDocument LastJsonLine(ProcessResult result)
    {
        var line = result.StandardOutput.Split('\n').LastOrDefault(l => l.StartsWith('{'))
            ?? throw new InvalidDataException("no JSON line from node: " + result.Describe());
        return JsonDocument.Parse(line);
    }

    private static void EnsureInstalled()
    {
        var kafkaJs = Path.Combine(RepositoryPaths.InteropJs, "node_modules", "kafkajs", "package.json");
        if (!File.Exists(kafkaJs))
        {
            throw new InvalidOperationException($"kafkajs is not installed: run `npm ci` in {RepositoryPaths.InteropJs} (test.sh does)");
        }
    }
}
