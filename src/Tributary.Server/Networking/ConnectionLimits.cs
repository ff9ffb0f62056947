using Tributary.Protocol;

namespace Tributary.Server.Networking;

/// <summary>Per-connection limits of <see cref="KafkaConnectionHandler"/>.</summary>
/// <param name="RequestBytesMax">socket.request.max.bytes: largest request frame, in bytes.</param>
/// <param name="IdleTimeoutMs">connections.max.idle.ms: time between requests, in ms, after which a silent connection is closed.</param>
/// <param name="PartialRequestTimeoutMs">
/// tributary.partial.request.timeout.ms: time, in ms, a request's remaining bytes may take to arrive once the handler
/// waits for them; more bytes arriving do not extend it (a client trickling bytes is closed).
/// </param>
/// <param name="QueuedRequestBytes">
/// queued.max.request.bytes, shared by all connections: bytes of requests received (whole or, from their size prefix
/// on, in part) and not yet handled; a connection whose next request finds no room stops reading. Null: unbounded.
/// </param>
public sealed record ConnectionLimits(int RequestBytesMax, long IdleTimeoutMs = 600_000, long PartialRequestTimeoutMs = 30_000, ByteBudget? QueuedRequestBytes = null);
