namespace Tributary.Broker.Security;

/// <summary>
/// What the broker stores for one user and SCRAM mechanism (RFC 5802 section 3): the salt, the iteration count,
/// StoredKey and ServerKey. The password, and the salted password a client sends in AlterUserScramCredentials,
/// are never kept: StoredKey verifies a client's proof and ServerKey signs the server's final message.
/// </summary>
public sealed record ScramCredential(byte[] Salt, int Iterations, byte[] StoredKey, byte[] ServerKey);
