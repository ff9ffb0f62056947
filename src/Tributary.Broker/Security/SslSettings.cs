using Tributary.Broker.Config;

namespace Tributary.Broker.Security;

/// <summary>
/// One TLS listener's ssl.* keys as they are in force (per-listener key, else the broker's, else the default). Two
/// equal settings load the same stores, so a change of any key (AlterConfigs) is seen by comparing them.
/// <see cref="ToString"/> names no password or key.
/// </summary>
public sealed record SslSettings(
    string Listener,
    string KeystoreType,
    string? KeystoreLocation,
    string? KeystorePassword,
    string? KeyPassword,
    string? KeystoreCertificateChain,
    string? KeystoreKey,
    string TruststoreType,
    string? TruststoreLocation,
    string? TruststorePassword,
    string? TruststoreCertificates,
    string ClientAuth,
    string EnabledProtocols,
    string PrincipalMappingRules)
{
    public const string ClientAuthNone = "none";
    public const string ClientAuthRequested = "requested";
    public const string ClientAuthRequired = "required";

    public static SslSettings For(BrokerConfig config, string listener) => new(
        listener,
        config.SslValue(listener, "ssl.keystore.type")!,
        config.SslValue(listener, "ssl.keystore.location"),
        config.SslValue(listener, "ssl.keystore.password"),
        config.SslValue(listener, "ssl.key.password"),
        config.SslValue(listener, "ssl.keystore.certificate.chain"),
        config.SslValue(listener, "ssl.keystore.key"),
        config.SslValue(listener, "ssl.truststore.type")!,
        config.SslValue(listener, "ssl.truststore.location"),
        config.SslValue(listener, "ssl.truststore.password"),
        config.SslValue(listener, "ssl.truststore.certificates"),
        config.SslValue(listener, "ssl.client.auth")!,
        config.SslValue(listener, "ssl.enabled.protocols")!,
        config.SslValue(listener, "ssl.principal.mapping.rules")!);

    /// <summary>
    /// The checks across keys, before anything is read: a keystore either in a file or inline (PEM) but not both, and
    /// inline certificates only with the PEM type, as Kafka requires.
    /// </summary>
    public string? Check()
    {
        var prefix = $"listener {Listener}: ";
        var inline = KeystoreCertificateChain is not null || KeystoreKey is not null;
        if (KeystoreLocation is null && !inline)
        {
            return prefix + "a TLS listener needs ssl.keystore.location or ssl.keystore.certificate.chain with ssl.keystore.key";
        }

        if (KeystoreLocation is not null && inline)
        {
            return prefix + "ssl.keystore.location and an inline ssl.keystore.certificate.chain/ssl.keystore.key exclude each other";
        }

        if (inline && (KeystoreCertificateChain is null || KeystoreKey is null))
        {
            return prefix + "an inline keystore needs both ssl.keystore.certificate.chain and ssl.keystore.key";
        }

        if (inline && KeystoreType != SslKeystore.Pem)
        {
            return prefix + "an inline keystore needs ssl.keystore.type=PEM";
        }

        if (TruststoreCertificates is not null && TruststoreLocation is not null)
        {
            return prefix + "ssl.truststore.location and ssl.truststore.certificates exclude each other";
        }

        return TruststoreCertificates is not null && TruststoreType != SslKeystore.Pem
            ? prefix + "ssl.truststore.certificates needs ssl.truststore.type=PEM"
            : null;
    }

    public override string ToString() =>
        $"SslSettings {{ Listener = {Listener}, KeystoreType = {KeystoreType}, KeystoreLocation = {KeystoreLocation}, TruststoreType = {TruststoreType}, "
        + $"TruststoreLocation = {TruststoreLocation}, ClientAuth = {ClientAuth}, EnabledProtocols = {EnabledProtocols} }}";
}
