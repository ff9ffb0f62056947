namespace Tributary.Broker.Handlers;

/// <summary>
/// The authorized-operations bit fields (bit n set for Kafka's AclOperation code n) answered when a request asks for
/// them. With no ACLs every operation Kafka defines for the resource type (AclEntry.supportedOperations) is allowed,
/// as Kafka answers without an authorizer.
/// </summary>
public static class AuthorizedOperations
{
    /// <summary>The value a response carries when the operations were not requested.</summary>
    public const int Omitted = int.MinValue;

    private const int Read = 3, Write = 4, Create = 5, Delete = 6, Alter = 7, Describe = 8, ClusterAction = 9, DescribeConfigs = 10, AlterConfigs = 11, IdempotentWrite = 12;

    public const int Topic = (1 << Read) | (1 << Write) | (1 << Create) | (1 << Delete) | (1 << Alter) | (1 << Describe) | (1 << DescribeConfigs) | (1 << AlterConfigs);

    public const int Group = (1 << Read) | (1 << Delete) | (1 << Describe) | (1 << DescribeConfigs) | (1 << AlterConfigs);

    public const int Cluster = (1 << Create) | (1 << Alter) | (1 << Describe) | (1 << ClusterAction) | (1 << DescribeConfigs) | (1 << AlterConfigs) | (1 << IdempotentWrite);
}
