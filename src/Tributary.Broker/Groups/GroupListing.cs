namespace Tributary.Broker.Groups;

/// <summary>A group as ListGroups shows it.</summary>
public sealed record GroupListing(string GroupId, string ProtocolType, GroupState State);
