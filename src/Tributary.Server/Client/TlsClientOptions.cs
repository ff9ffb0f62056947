using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace Tributary.Server.Client;

/// <summary>
/// The TLS options of a client connection (the CLI's, a broker's to its peers): the authorities to trust (null: the
/// system's), the client certificate offered when the server asks for one, and whether the server's certificate must
/// name the host (Kafka's ssl.endpoint.identification.algorithm=https, its default). Revocation is not checked.
/// </summary>
public static class TlsClientOptions
{
    public static SslClientAuthenticationOptions Create(string host, X509Certificate2Collection? trusted, SslStreamCertificateContext? clientCertificate, bool verifyHostName)
    {
        var options = new SslClientAuthenticationOptions
        {
            TargetHost = host,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            ClientCertificateContext = clientCertificate,
        };
        if (trusted is not null)
        {
            options.CertificateChainPolicy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
            options.CertificateChainPolicy.CustomTrustStore.AddRange(trusted);
        }

        if (!verifyHostName)
        {
            options.RemoteCertificateValidationCallback = (_, _, _, errors) => (errors & ~SslPolicyErrors.RemoteCertificateNameMismatch) == SslPolicyErrors.None;
        }

        return options;
    }
}
