namespace Tributary.Server.Networking;

/// <summary>A connection served on a thread of its own, which work from other threads can be posted to.</summary>
internal interface IConnectionThreadFeature
{
    /// <summary>Posts run on the connection's thread between receives; null when the connection has no such thread.</summary>
    SynchronizationContext? ResumeContext { get; }

    /// <summary>
    /// Set by the handler while it waits for its next request with nothing received, held or in flight: the transport
    /// may then give up the connection's thread until data arrives (<see cref="ConnectionPoller"/>).
    /// </summary>
    bool AwaitingRequest { get; set; }
}
