using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Tributary.Broker.Config;

namespace Tributary.Broker.Cluster;

/// <summary>
/// TLS and authentication of a broker's etcd client: the certificate authorities etcd's certificate must chain to,
/// the client certificate (etcd's --client-cert-auth) and the etcd user, read from the tributary.metadata.etcd.ssl.*,
/// username and password keys when the broker joins. The platform's TLS does the work; this only loads the files and
/// remembers why the last server certificate was refused, so a failed start can say so.
/// </summary>
public sealed class EtcdClientSecurity
{
    private const string TruststoreKey = "tributary.metadata.etcd.ssl.truststore.location";
    private const string KeystoreKey = "tributary.metadata.etcd.ssl.keystore.location";
    private const string KeyKey = "tributary.metadata.etcd.ssl.key.location";
    private const string UsernameKey = "tributary.metadata.etcd.username";
    private const string PasswordKey = "tributary.metadata.etcd.password";

    public static readonly EtcdClientSecurity None = new(null, null, null, null);

    private string? _certificateRejection;

    public EtcdClientSecurity(X509Certificate2Collection? trustedCertificates, SslStreamCertificateContext? clientCertificate, string? username, string? password)
    {
        TrustedCertificates = trustedCertificates;
        ClientCertificate = clientCertificate;
        Username = username;
        Password = password;
    }

    /// <summary>The certificate authorities of the truststore; null for the system's.</summary>
    public X509Certificate2Collection? TrustedCertificates { get; }

    /// <summary>The client certificate with its chain; null to show none.</summary>
    public SslStreamCertificateContext? ClientCertificate { get; }

    /// <summary>The etcd user; null when the broker does not authenticate.</summary>
    public string? Username { get; }

    public string? Password { get; }

    /// <summary>Why etcd's certificate was last refused (the policy errors and chain status); null when none was.</summary>
    public string? CertificateRejection => Volatile.Read(ref _certificateRejection);

    /// <summary>Reads the files the config names; throws <see cref="EtcdConfigurationException"/> naming the key that is wrong.</summary>
    public static EtcdClientSecurity Load(BrokerConfig config)
    {
        var tls = EtcdEndpoints.UseTls(config.EtcdEndpoints);
        if (!tls && (config.EtcdSslTruststoreLocation ?? config.EtcdSslKeystoreLocation ?? config.EtcdSslKeyLocation) is not null)
        {
            throw new EtcdConfigurationException("tributary.metadata.etcd.ssl.* is set but tributary.metadata.etcd.endpoints are http://; use https:// endpoints for TLS");
        }

        if (config.EtcdUsername is null != config.EtcdPassword is null)
        {
            throw new EtcdConfigurationException($"{UsernameKey} and {PasswordKey} must be set together");
        }

        if (config.EtcdSslKeyLocation is not null && config.EtcdSslKeystoreLocation is null)
        {
            throw new EtcdConfigurationException($"{KeyKey} is set without {KeystoreKey} (the client certificate)");
        }

        var trusted = config.EtcdSslTruststoreLocation is { } truststore ? LoadTruststore(truststore) : null;
        var client = config.EtcdSslKeystoreLocation is { } keystore ? LoadClientCertificate(keystore, config.EtcdSslKeyLocation, config.EtcdSslKeyPassword) : null;
        return new EtcdClientSecurity(trusted, client, config.EtcdUsername, config.EtcdPassword);
    }

    private static X509Certificate2Collection LoadTruststore(string path)
    {
        var certificates = new X509Certificate2Collection();
        try
        {
            certificates.ImportFromPemFile(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException)
        {
            throw new EtcdConfigurationException($"{TruststoreKey}: cannot read PEM certificates from {path}: {e.Message}", e);
        }

        return certificates.Count > 0 ? certificates : throw new EtcdConfigurationException($"{TruststoreKey}: {path} holds no PEM certificate");
    }

    private static SslStreamCertificateContext LoadClientCertificate(string certificatePath, string? keyPath, string? password)
    {
        var keyKey = keyPath is null ? KeystoreKey : KeyKey;
        X509Certificate2 leaf;
        var chain = new X509Certificate2Collection();
        try
        {
            chain.ImportFromPemFile(certificatePath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException)
        {
            throw new EtcdConfigurationException($"{KeystoreKey}: cannot read the PEM client certificate from {certificatePath}: {e.Message}", e);
        }

        if (chain.Count == 0)
        {
            throw new EtcdConfigurationException($"{KeystoreKey}: {certificatePath} holds no PEM certificate");
        }

        try
        {
            leaf = password is null
                ? X509Certificate2.CreateFromPemFile(certificatePath, keyPath)
                : X509Certificate2.CreateFromEncryptedPemFile(certificatePath, password, keyPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException or ArgumentException)
        {
            // A wrong password and a key that does not match the certificate both land here, as does a missing key.
            var hint = password is null ? "" : " (or tributary.metadata.etcd.ssl.key.password is wrong)";
            throw new EtcdConfigurationException($"{keyKey}: cannot read the client certificate's private key from {keyPath ?? certificatePath}{hint}: {e.Message}", e);
        }

        return SslStreamCertificateContext.Create(leaf, new X509Certificate2Collection(chain.Skip(1).ToArray()), offline: true);
    }

    /// <summary>TLS options for one channel: the truststore as the only roots when set, the client certificate when set.</summary>
    public SslClientAuthenticationOptions SslOptions() => new()
    {
        CertificateChainPolicy = TrustedCertificates is null ? null : TruststorePolicy(TrustedCertificates),
        ClientCertificateContext = ClientCertificate,
        RemoteCertificateValidationCallback = (_, _, chain, errors) =>
        {
            if (errors == SslPolicyErrors.None)
            {
                return true;
            }

            var status = chain is null ? "" : string.Join(", ", chain.ChainStatus.Select(s => s.Status).Distinct());
            Volatile.Write(ref _certificateRejection, status.Length > 0 ? $"{errors}: {status}" : errors.ToString());
            return false;
        },
    };

    private static X509ChainPolicy TruststorePolicy(X509Certificate2Collection trusted)
    {
        var policy = new X509ChainPolicy
        {
            TrustMode = X509ChainTrustMode.CustomRootTrust,

            // etcd certificates are usually from a private CA without revocation endpoints.
            RevocationMode = X509RevocationMode.NoCheck,
        };
        policy.CustomTrustStore.AddRange(trusted);
        return policy;
    }
}
