namespace Tributary.Protocol.Compression;

/// <summary>Shared checks for the decompressed-size bound every codec enforces (zip-bomb safety).</summary>
internal static class DecompressionLimit
{
    public static void Check(int decompressedBytesMax)
    {
        if (decompressedBytesMax < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(decompressedBytesMax), decompressedBytesMax, "must not be negative");
        }
    }

    /// <summary>Marks the exception so callers can report a size refusal apart from corrupt data.</summary>
    private const string ExceededMarker = "Tributary.DecompressionLimitExceeded";

    public static ProtocolException Exceeded(string codec, int decompressedBytesMax)
    {
        var exception = new ProtocolException($"{codec} data decompresses to more than the {decompressedBytesMax} bytes allowed");
        exception.Data[ExceededMarker] = true;
        return exception;
    }

    public static bool IsExceeded(ProtocolException exception) => exception.Data.Contains(ExceededMarker);

    /// <summary>
    /// How much output space to offer a streaming decoder: one byte more than the budget left, so a stream
    /// that would exceed the limit proves it by writing that byte instead of being cut off silently.
    /// </summary>
    public static int NextChunk(int spanLength, long written, int decompressedBytesMax) =>
        (int)Math.Min(spanLength, decompressedBytesMax - written + 1);
}
