namespace Tributary.Broker.Handlers;

/// <summary>A partition of a fetch session as its requests name it: by topic id (v13+) or by topic name, never both.</summary>
public readonly record struct FetchSessionKey(string Topic, Guid TopicId, int Partition);
