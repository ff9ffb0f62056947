namespace Tributary.Server.Networking;

/// <summary>Per-connection limits, from socket.request.max.bytes.</summary>
public sealed record ConnectionLimits(int RequestBytesMax);
