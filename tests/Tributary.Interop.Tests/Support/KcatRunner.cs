using System.Text.Json;

namespace Tributary.Interop.Tests.Support;

/// <summary>The real kcat (librdkafka) binary from the Debian package, run with a time limit per invocation.</summary>
public static class KcatRunner
{
    public static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(120);

    public static Task<ProcessResult> RunAsync(IEnumerable<string> arguments, string? standardOutputFile = null, TimeSpan? timeout = null) =>
        ProcessRunner.RunAsync("kcat", arguments, timeout ?? RunTimeout, standardOutputFile);

    /// <summary><c>kcat -L -J</c>: the cluster as librdkafka sees it.</summary>
    public static async Task<JsonDocument> MetadataAsync(string bootstrap, string? topic = null)
    {
        string[] arguments = topic is null ? ["-L", "-J", "-b", bootstrap, "-m", "10"] : ["-L", "-J", "-b", bootstrap, "-m", "10", "-t", topic];
        var result = await RunAsync(arguments).ConfigureAwait(false);
        Assert.True(result.ExitCode == 0, "kcat -L failed: " + result.Describe());
        return JsonDocument.Parse(result.StandardOutput);
    }

    /// <summary>
    /// <c>kcat -P -l FILE</c>: one message per line, key and value split at the first tab. Fails the test if kcat
    /// reports any message it could not deliver.
    /// </summary>
    public static async Task<ProcessResult> ProduceLinesAsync(string bootstrap, string topic, string inputFile, IEnumerable<string> extraArguments)
    {
        string[] arguments = ["-P", "-b", bootstrap, "-t", topic, "-K", "\\t", "-l", .. extraArguments, inputFile];
        var result = await RunAsync(arguments).ConfigureAwait(false);
        Assert.True(result.ExitCode == 0 && !result.StandardError.Contains("ERROR", StringComparison.Ordinal), "kcat -P failed: " + result.Describe());
        return result;
    }

    /// <summary><c>kcat -P -l FILE</c> left running (one message per line, no keys); the caller ends it.</summary>
    public static ChildProcess StartProducer(string bootstrap, string topic, string inputFile, IEnumerable<string> extraArguments) =>
        ChildProcess.Start("kcat", ["-P", "-b", bootstrap, "-t", topic, "-l", .. extraArguments, inputFile]);

    /// <summary><c>kcat -C -e -J</c> from the beginning of every partition to its end, with CRC checks on.</summary>
    public static async Task<List<KcatMessage>> ConsumeAllAsync(string bootstrap, string topic, string outputFile)
    {
        string[] arguments = ["-C", "-b", bootstrap, "-t", topic, "-o", "beginning", "-e", "-J", "-q", "-X", "check.crcs=true"];
        var result = await RunAsync(arguments, outputFile).ConfigureAwait(false);
        Assert.True(result.ExitCode == 0 && !result.StandardError.Contains("ERROR", StringComparison.Ordinal), "kcat -C failed: " + result.Describe());
        var messages = new List<KcatMessage>();
        foreach (var line in File.ReadLines(outputFile))
        {
            if (line.Length > 0)
            {
                messages.Add(JsonSerializer.Deserialize<KcatMessage>(line) ?? throw new InvalidDataException("null line from kcat"));
            }
        }

        return messages;
    }
}
