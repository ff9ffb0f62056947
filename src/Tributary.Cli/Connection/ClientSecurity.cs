using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Tributary.Broker.Security;
using Tributary.Server.Client;

namespace Tributary.Cli.Connection;

/// <summary>
/// How the CLI's connections are secured, from a Kafka client properties file (<c>--command-config</c>):
/// <c>security.protocol</c> PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL; <c>sasl.mechanism</c> PLAIN, SCRAM-SHA-256 or
/// SCRAM-SHA-512 with the user from <c>sasl.jaas.config</c> (Java clients) or <c>sasl.username</c>/<c>sasl.password</c>
/// (librdkafka); the authorities to trust from <c>ssl.truststore.*</c> (PEM or PKCS12) or <c>ssl.ca.location</c> (PEM),
/// else the system's; a client certificate (mTLS) from <c>ssl.keystore.*</c> or <c>ssl.certificate.location</c> with
/// <c>ssl.key.location</c>. <c>ssl.endpoint.identification.algorithm=</c> (empty) skips the host name check, as in Kafka.
/// </summary>
internal sealed class ClientSecurity
{
    public const string PlainLoginModule = PlainJaasConfig.LoginModule;
    public const string ScramLoginModule = JaasConfig.ScramLoginModule;

    private static readonly string[] Protocols = ["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"];
    private static readonly string[] Mechanisms = [SaslMechanisms.Plain, SaslMechanisms.ScramSha256, SaslMechanisms.ScramSha512];

    // Keys read here; other security keys are reported as ignored (a misspelt key should not pass silently).
    private static readonly string[] KnownKeys =
    [
        "security.protocol", "sasl.mechanism", "sasl.jaas.config", "sasl.username", "sasl.password",
        "ssl.truststore.type", "ssl.truststore.location", "ssl.truststore.password", "ssl.truststore.certificates", "ssl.ca.location",
        "ssl.keystore.type", "ssl.keystore.location", "ssl.keystore.password", "ssl.key.password",
        "ssl.keystore.certificate.chain", "ssl.keystore.key", "ssl.certificate.location", "ssl.key.location",
        "ssl.endpoint.identification.algorithm",
    ];

    public static readonly ClientSecurity Plaintext = new(null, null, null, null, null, verifyHostName: true);

    private readonly X509Certificate2Collection? _trusted;
    private readonly SslStreamCertificateContext? _clientCertificate;
    private readonly bool _verifyHostName;

    private ClientSecurity(string? mechanism, string? username, string? password, X509Certificate2Collection? trusted, SslStreamCertificateContext? clientCertificate, bool verifyHostName)
    {
        Mechanism = mechanism;
        Username = username;
        Password = password;
        _trusted = trusted;
        _clientCertificate = clientCertificate;
        _verifyHostName = verifyHostName;
    }

    /// <summary>Whether connections use TLS (SSL and SASL_SSL).</summary>
    public bool UsesTls { get; private init; }

    /// <summary>The SASL mechanism (SASL_PLAINTEXT and SASL_SSL), else null.</summary>
    public string? Mechanism { get; }

    public string? Username { get; }

    public string? Password { get; }

    /// <summary>
    /// The settings of a properties file, or the first error (which names the key, never a password). Keys that are
    /// not about security are ignored, as Kafka's tools ignore client settings they do not need; unknown ssl.*, sasl.*
    /// and security.* keys go to <paramref name="ignored"/>.
    /// </summary>
    public static (ClientSecurity? Security, string? Error) FromProperties(IReadOnlyDictionary<string, string> properties, List<string> ignored)
    {
        ignored.AddRange(properties.Keys.Where(k => k.StartsWith("ssl.", StringComparison.Ordinal) || k.StartsWith("sasl.", StringComparison.Ordinal) || k.StartsWith("security.", StringComparison.Ordinal))
            .Where(k => !KnownKeys.Contains(k)).Order(StringComparer.Ordinal));
        var protocol = Value(properties, "security.protocol")?.ToUpperInvariant() ?? "PLAINTEXT";
        if (!Protocols.Contains(protocol))
        {
            return (null, $"security.protocol '{protocol}' is not one of {string.Join(", ", Protocols)}");
        }

        string? mechanism = null, username = null, password = null;
        if (protocol.StartsWith("SASL_", StringComparison.Ordinal))
        {
            mechanism = Value(properties, "sasl.mechanism")?.ToUpperInvariant();
            if (mechanism is null || !Mechanisms.Contains(mechanism))
            {
                return (null, $"{protocol} needs sasl.mechanism set to one of {string.Join(", ", Mechanisms)}");
            }

            if (Value(properties, "sasl.jaas.config") is { } jaas)
            {
                var module = mechanism == SaslMechanisms.Plain ? PlainLoginModule : ScramLoginModule;
                var (options, error) = JaasConfig.Parse(jaas, module);
                if (error is not null)
                {
                    return (null, $"sasl.jaas.config: {error}");
                }

                username = options.GetValueOrDefault("username");
                password = options.GetValueOrDefault("password");
            }

            username = Value(properties, "sasl.username") ?? username;
            password = Value(properties, "sasl.password") ?? password;
            if (username is null || password is null)
            {
                return (null, $"{mechanism} needs a username and a password: sasl.jaas.config with username=\"…\" password=\"…\", or sasl.username and sasl.password");
            }
        }

        if (!protocol.EndsWith("SSL", StringComparison.Ordinal))
        {
            return (new ClientSecurity(mechanism, username, password, null, null, verifyHostName: true), null);
        }

        try
        {
            var stores = StoreSettings(properties);
            var trusted = SslKeystore.LoadTruststore(stores);
            SslStreamCertificateContext? client = null;
            if (stores.KeystoreLocation is not null || stores.KeystoreCertificateChain is not null || stores.KeystoreKey is not null)
            {
                // A client certificate is optional; the broker's checks apply once one is given.
                if (stores.Check() is { } error)
                {
                    return (null, Unprefixed(error));
                }

                var (certificate, chain) = SslKeystore.LoadKeystore(stores);
                client = SslStreamCertificateContext.Create(certificate, chain, offline: true);
            }

            var verify = Value(properties, "ssl.endpoint.identification.algorithm") is not "";
            return (new ClientSecurity(mechanism, username, password, trusted, client, verify) { UsesTls = true }, null);
        }
        catch (SslStoreException e)
        {
            return (null, Unprefixed(e.Message));
        }
        catch (IOException e)
        {
            return (null, e.Message);
        }
    }

    /// <summary>The TLS options of a connection to <paramref name="host"/>.</summary>
    public SslClientAuthenticationOptions TlsOptions(string host) => TlsClientOptions.Create(host, _trusted, _clientCertificate, _verifyHostName);

    /// <summary>
    /// The stores as the broker's loader reads them. librdkafka's ssl.ca.location is a PEM truststore; its
    /// ssl.certificate.location and ssl.key.location are read into an inline PEM keystore.
    /// </summary>
    private static SslSettings StoreSettings(IReadOnlyDictionary<string, string> properties)
    {
        var truststoreLocation = Value(properties, "ssl.truststore.location");
        var truststoreType = Value(properties, "ssl.truststore.type")?.ToUpperInvariant() ?? SslKeystore.Jks;
        if (truststoreLocation is null && Value(properties, "ssl.ca.location") is { } ca)
        {
            (truststoreLocation, truststoreType) = (ca, SslKeystore.Pem);
        }

        var keystoreType = Value(properties, "ssl.keystore.type")?.ToUpperInvariant() ?? SslKeystore.Jks;
        var chain = Value(properties, "ssl.keystore.certificate.chain");
        var key = Value(properties, "ssl.keystore.key");
        if (Value(properties, "ssl.certificate.location") is { } certificatePath && Value(properties, "ssl.key.location") is { } keyPath)
        {
            (chain, key, keystoreType) = (File.ReadAllText(certificatePath), File.ReadAllText(keyPath), SslKeystore.Pem);
        }

        return new SslSettings(
            Listener: "client",
            KeystoreType: keystoreType,
            KeystoreLocation: Value(properties, "ssl.keystore.location"),
            KeystorePassword: Value(properties, "ssl.keystore.password"),
            KeyPassword: Value(properties, "ssl.key.password"),
            KeystoreCertificateChain: chain,
            KeystoreKey: key,
            TruststoreType: truststoreType,
            TruststoreLocation: truststoreLocation,
            TruststorePassword: Value(properties, "ssl.truststore.password"),
            TruststoreCertificates: Value(properties, "ssl.truststore.certificates"),
            ClientAuth: SslSettings.ClientAuthNone,
            EnabledProtocols: "TLSv1.2,TLSv1.3",
            PrincipalMappingRules: SslPrincipalMapper.Default);
    }

    // The broker's store messages start "listener NAME: "; a client has no listener.
    private static string Unprefixed(string message) =>
        message.StartsWith("listener client: ", StringComparison.Ordinal) ? message["listener client: ".Length..] : message;

    private static string? Value(IReadOnlyDictionary<string, string> properties, string key) =>
        properties.TryGetValue(key, out var value) ? value.Trim() : null;
}
