using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Tributary.Broker.Config;
using Tributary.Broker.Security;

namespace Tributary.Server.Client;

/// <summary>
/// How this broker's connections to its peers are secured (<see cref="InterBrokerConfig"/>): the inter-broker listener
/// and its protocol; on TLS the listener's truststore (per-listener keys first, as Kafka) and its keystore, offered
/// when the peer asks for a client certificate (ssl.client.auth=required or requested), the peer's certificate checked
/// against the host it is reached at; on SASL the mechanism and the broker's own login. The stores are read once, when
/// the broker joins. <see cref="ToString"/> names no password.
/// </summary>
public sealed class InterBrokerSecurity
{
    private readonly X509Certificate2Collection? _trusted;
    private readonly SslStreamCertificateContext? _certificate;

    private InterBrokerSecurity(string listener, string protocol, string? mechanism, string? username, string? password,
        X509Certificate2Collection? trusted, SslStreamCertificateContext? certificate)
    {
        Listener = listener;
        Protocol = protocol;
        Mechanism = mechanism;
        Username = username;
        Password = password;
        _trusted = trusted;
        _certificate = certificate;
    }

    /// <summary>Plaintext to the PLAINTEXT listener (tests that start replication by hand).</summary>
    public static InterBrokerSecurity Plaintext { get; } = new(ListenerSecurity.Plaintext, ListenerSecurity.Plaintext, null, null, null, null, null);

    public string Listener { get; }

    public string Protocol { get; }

    /// <summary>The SASL mechanism (SASL_PLAINTEXT, SASL_SSL), else null.</summary>
    public string? Mechanism { get; }

    public string? Username { get; }

    public string? Password { get; }

    public bool UsesTls => Protocol is ListenerSecurity.Ssl or ListenerSecurity.SaslSsl;

    /// <summary>The settings of a validated cluster-mode configuration; throws <see cref="SslStoreException"/> when a store cannot be read.</summary>
    public static InterBrokerSecurity For(BrokerConfig config)
    {
        var listener = config.InterBrokerListener;
        var protocol = config.SecurityProtocolOf(listener);
        string? mechanism = null, username = null, password = null;
        if (protocol is ListenerSecurity.SaslPlaintext or ListenerSecurity.SaslSsl)
        {
            mechanism = config.SaslMechanismInterBrokerProtocol;
            (username, password, var error) = InterBrokerConfig.LoginFor(config, listener, mechanism);
            if (error is not null)
            {
                throw new InvalidOperationException(error);
            }
        }

        if (protocol is not (ListenerSecurity.Ssl or ListenerSecurity.SaslSsl))
        {
            return new InterBrokerSecurity(listener, protocol, mechanism, username, password, null, null);
        }

        var stores = SslSettings.For(config, listener);
        var (certificate, chain) = SslKeystore.LoadKeystore(stores);
        return new InterBrokerSecurity(listener, protocol, mechanism, username, password, SslKeystore.LoadTruststore(stores),
            SslStreamCertificateContext.Create(certificate, chain, offline: true));
    }

    /// <summary>The TLS options of a connection to a peer at <paramref name="host"/>; null when the listener is not TLS.</summary>
    public SslClientAuthenticationOptions? TlsOptions(string host) =>
        UsesTls ? TlsClientOptions.Create(host, _trusted, _certificate, verifyHostName: true) : null;

    /// <summary>The TLS handshake with a peer at <paramref name="host"/> over <paramref name="connected"/>; the listener must be TLS.</summary>
    public async Task<Stream> HandshakeAsync(Stream connected, string host, CancellationToken cancellationToken)
    {
        var tls = new SslStream(connected, leaveInnerStreamOpen: false);
        try
        {
            await tls.AuthenticateAsClientAsync(TlsOptions(host) ?? throw new InvalidOperationException($"the inter-broker listener {Listener} is not TLS"), cancellationToken).ConfigureAwait(false);
            return tls;
        }
        catch
        {
            await tls.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public override string ToString() => $"listener {Listener} ({Protocol}{(Mechanism is null ? "" : ", " + Mechanism + " as " + Username)})";
}
