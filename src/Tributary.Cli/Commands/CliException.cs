namespace Tributary.Cli.Commands;

/// <summary>A command failed at run time (the broker refused, a topic is missing): its message is printed as one line, exit code 1.</summary>
internal sealed class CliException(string message) : Exception(message);
