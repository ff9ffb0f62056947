namespace Tributary.Broker.Handlers;

/// <summary>
/// The authorized-operations fields (KIP-430; bit n set for Kafka's AclOperation code n) are computed from the ACLs by
/// <see cref="Security.Authorization.Authorizer.AuthorizedOperations"/> when a request asks for them.
/// </summary>
public static class AuthorizedOperations
{
    /// <summary>The value a response carries when the operations were not requested.</summary>
    public const int Omitted = int.MinValue;
}
