using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;
using Tributary.Broker.Config;
using Tributary.Broker.Security;

namespace Tributary.Server.Networking;

/// <summary>
/// A TLS listener's certificates and handshake options, reloaded without a restart: each handshake first compares the
/// listener's ssl.* keys (changed by AlterConfigs) and the keystore and truststore files' size and modification time
/// with those last loaded, and loads again when any differs. New handshakes use the new certificate; established
/// connections keep theirs. A store that cannot be read keeps the previous one (logged once per change); at start it is
/// an error (<see cref="SslStoreException"/>).
/// </summary>
internal sealed partial class TlsServerContext
{
    private readonly string _listener;
    private readonly Func<BrokerConfig> _config;
    private readonly ILogger _logger;
    private readonly Lock _reloadLock = new();
    private volatile Loaded _current;
    private Stamp? _failed;

    public TlsServerContext(string listener, Func<BrokerConfig> config, ILogger logger)
    {
        _listener = listener;
        _config = config;
        _logger = logger;
        _current = Load(CurrentStamp());
    }

    /// <summary>The options for the next handshake, loaded again first if the settings or files changed.</summary>
    public Loaded Current()
    {
        var current = _current;
        var stamp = CurrentStamp();
        if (stamp.Equals(current.Stamp))
        {
            return current;
        }

        lock (_reloadLock)
        {
            if (stamp.Equals(_current.Stamp) || stamp.Equals(_failed))
            {
                return _current;
            }

            try
            {
                _current = Load(stamp);
                _failed = null;
                LogReloaded(_listener, _current.Certificate.Subject, _current.Certificate.NotAfter);
            }
            catch (SslStoreException e)
            {
                _failed = stamp;
                LogReloadFailed(_listener, e.Message);
            }

            return _current;
        }
    }

    private Stamp CurrentStamp()
    {
        var settings = SslSettings.For(_config(), _listener);
        return new Stamp(settings, FileStamp.Of(settings.KeystoreLocation), FileStamp.Of(settings.TruststoreLocation));
    }

    private static Loaded Load(Stamp stamp)
    {
        var settings = stamp.Settings;
        if (settings.Check() is { } error)
        {
            throw new SslStoreException(error);
        }

        var (certificate, chain) = SslKeystore.LoadKeystore(settings);
        var trusted = SslKeystore.LoadTruststore(settings);
        var mapper = SslPrincipalMapper.Parse(settings.PrincipalMappingRules).Mapper!;
        var clientAuth = settings.ClientAuth;
        var protocols = ConfigDefinition.Items(settings.EnabledProtocols)
            .Aggregate(SslProtocols.None, (all, p) => all | (p == "TLSv1.3" ? SslProtocols.Tls13 : SslProtocols.Tls12));
        var options = new SslServerAuthenticationOptions
        {
            ServerCertificateContext = SslStreamCertificateContext.Create(certificate, chain, offline: true),
            ClientCertificateRequired = clientAuth != SslSettings.ClientAuthNone,
            EnabledSslProtocols = protocols,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            RemoteCertificateValidationCallback = (_, presented, chainSent, errors) => Trusts(presented, chainSent, errors, trusted, clientAuth),
        };
        return new Loaded(stamp, options, certificate, mapper);
    }

    /// <summary>
    /// Whether a client's certificate is accepted: none is fine unless ssl.client.auth=required; one that is presented
    /// must chain to the truststore (or, without one, to the system's authorities), with requested as with required.
    /// </summary>
    private static bool Trusts(X509Certificate? presented, X509Chain? chainSent, SslPolicyErrors errors, X509Certificate2Collection? trusted, string clientAuth)
    {
        if (presented is null)
        {
            return clientAuth != SslSettings.ClientAuthRequired;
        }

        if (trusted is null)
        {
            return (errors & ~SslPolicyErrors.RemoteCertificateNameMismatch) == SslPolicyErrors.None;
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(trusted);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        if (chainSent is not null)
        {
            chain.ChainPolicy.ExtraStore.AddRange(chainSent.ChainPolicy.ExtraStore);
        }

        var certificate = presented as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(presented.GetRawCertData());
        return chain.Build(certificate);
    }

    /// <summary>What the options were loaded from.</summary>
    internal sealed record Stamp(SslSettings Settings, FileStamp? Keystore, FileStamp? Truststore);

    internal readonly record struct FileStamp(DateTime ModifiedUtc, long Length)
    {
        public static FileStamp? Of(string? path)
        {
            if (path is null)
            {
                return null;
            }

            var info = new FileInfo(path);
            return info.Exists ? new FileStamp(info.LastWriteTimeUtc, info.Length) : new FileStamp(DateTime.MinValue, -1);
        }
    }

    /// <summary>One load: the handshake options, the listener's certificate, and how a client certificate names its principal.</summary>
    internal sealed class Loaded(Stamp stamp, SslServerAuthenticationOptions options, X509Certificate2 certificate, SslPrincipalMapper mapper)
    {
        public Stamp Stamp { get; } = stamp;

        public SslServerAuthenticationOptions Options { get; } = options;

        public X509Certificate2 Certificate { get; } = certificate;

        public SslPrincipalMapper Mapper { get; } = mapper;
    }

    [LoggerMessage(EventId = 320, Level = LogLevel.Information, Message = "Listener {Listener}: TLS certificate loaded again ({Subject}, valid until {NotAfter:u}); new handshakes use it")]
    private partial void LogReloaded(string listener, string subject, DateTime notAfter);

    [LoggerMessage(EventId = 321, Level = LogLevel.Warning, Message = "Listener {Listener}: the changed TLS keystore or truststore cannot be used, the previous one stays: {Reason}")]
    private partial void LogReloadFailed(string listener, string reason);
}
