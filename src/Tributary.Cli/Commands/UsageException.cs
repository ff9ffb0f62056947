namespace Tributary.Cli.Commands;

/// <summary>A command line the parser accepted but the command cannot use (an alter with nothing to change): one line, exit code 2.</summary>
internal sealed class UsageException(string message) : Exception(message);
