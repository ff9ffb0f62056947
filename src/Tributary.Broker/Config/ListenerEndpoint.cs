namespace Tributary.Broker.Config;

/// <summary>One entry of listeners or advertised.listeners: <c>NAME://host:port</c>, the name upper-case as Kafka normalises it.</summary>
public sealed record ListenerEndpoint(string Name, string Host, int Port);
