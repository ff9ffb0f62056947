namespace Tributary.Cli.Commands;

/// <summary>A failure the user can act on (unknown topic, rejected batch, unreadable file): printed as one line, no stack trace.</summary>
internal sealed class CommandFailedException(string message) : Exception(message);
