namespace Tributary.Protocol;

/// <summary>
/// The one exception the codec throws for bytes that do not form a valid message: truncated input,
/// impossible lengths, malformed varints, bad UTF-8, corrupt batches. The reason is precise enough to log.
/// </summary>
public sealed class ProtocolException(string reason) : Exception(reason)
{
    public string Reason => Message;
}
