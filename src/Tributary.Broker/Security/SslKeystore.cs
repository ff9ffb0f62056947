using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Tributary.Broker.Security;

/// <summary>
/// Reads a TLS listener's keystore (its certificate chain and private key) and truststore (the authorities client
/// certificates must chain to) in Kafka's formats: PKCS12, PEM (a file, or inline keys), and JKS, which is read as
/// PKCS12 since Java's keytool writes PKCS12 files under that name; a genuine Java-only JKS file is refused with how
/// to convert it. Errors name the key and the file, never a password or key.
/// </summary>
public static class SslKeystore
{
    public const string Pem = "PEM";
    public const string Pkcs12 = "PKCS12";
    public const string Jks = "JKS";

    public static readonly string[] Types = [Jks, Pkcs12, Pem];

    // A genuine JKS file starts with this magic number.
    private static ReadOnlySpan<byte> JksMagic => [0xFE, 0xED, 0xFE, 0xED];

    /// <summary>The listener's certificate with its private key, then the rest of its chain (intermediates).</summary>
    public static (X509Certificate2 Certificate, X509Certificate2Collection Chain) LoadKeystore(SslSettings settings)
    {
        var where = settings.KeystoreLocation is { } location ? $"ssl.keystore.location={location}" : "ssl.keystore.certificate.chain/ssl.keystore.key";
        try
        {
            if (settings.KeystoreType == Pem)
            {
                var text = settings.KeystoreLocation is { } path ? File.ReadAllText(path) : settings.KeystoreCertificateChain!;
                var keyText = settings.KeystoreLocation is null ? settings.KeystoreKey! : text;
                var all = new X509Certificate2Collection();
                all.ImportFromPem(text);
                if (all.Count == 0)
                {
                    throw new SslStoreException($"listener {settings.Listener}: {where} holds no PEM certificate");
                }

                var password = settings.KeyPassword ?? settings.KeystorePassword;
                using var leaf = all[0];
                var withKey = keyText.Contains("ENCRYPTED PRIVATE KEY", StringComparison.Ordinal)
                    ? X509Certificate2.CreateFromEncryptedPem(leaf.ExportCertificatePem(), keyText, password ?? "")
                    : X509Certificate2.CreateFromPem(leaf.ExportCertificatePem(), keyText);
                all.RemoveAt(0);
                return (withKey, all);
            }

            var file = File.ReadAllBytes(settings.KeystoreLocation!);
            RefuseJks(file, where, settings.Listener);
            var loaded = X509CertificateLoader.LoadPkcs12Collection(file, settings.KeystorePassword ?? settings.KeyPassword, X509KeyStorageFlags.EphemeralKeySet);
            var certificate = loaded.FirstOrDefault(c => c.HasPrivateKey)
                ?? throw new SslStoreException($"listener {settings.Listener}: {where} holds no private key");
            loaded.Remove(certificate);
            return (certificate, loaded);
        }
        catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException or ArgumentException && e is not SslStoreException)
        {
            throw new SslStoreException($"listener {settings.Listener}: cannot read the keystore {where} ({settings.KeystoreType}): {e.Message}");
        }
    }

    /// <summary>The trusted certificates; null when no truststore is configured (the system's authorities are trusted).</summary>
    public static X509Certificate2Collection? LoadTruststore(SslSettings settings)
    {
        if (settings.TruststoreLocation is null && settings.TruststoreCertificates is null)
        {
            return null;
        }

        var where = settings.TruststoreLocation is { } location ? $"ssl.truststore.location={location}" : "ssl.truststore.certificates";
        try
        {
            var trusted = new X509Certificate2Collection();
            if (settings.TruststoreType == Pem)
            {
                trusted.ImportFromPem(settings.TruststoreCertificates ?? File.ReadAllText(settings.TruststoreLocation!));
            }
            else
            {
                var file = File.ReadAllBytes(settings.TruststoreLocation!);
                RefuseJks(file, where, settings.Listener);
                trusted.AddRange(X509CertificateLoader.LoadPkcs12Collection(file, settings.TruststorePassword, X509KeyStorageFlags.EphemeralKeySet));
            }

            return trusted.Count > 0 ? trusted : throw new SslStoreException($"listener {settings.Listener}: {where} holds no certificate");
        }
        catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException or ArgumentException && e is not SslStoreException)
        {
            throw new SslStoreException($"listener {settings.Listener}: cannot read the truststore {where} ({settings.TruststoreType}): {e.Message}");
        }
    }

    private static void RefuseJks(ReadOnlySpan<byte> file, string where, string listener)
    {
        if (file.StartsWith(JksMagic))
        {
            throw new SslStoreException($"listener {listener}: {where} is a Java JKS keystore, which Tributary cannot read; "
                + "convert it with keytool -importkeystore -deststoretype PKCS12");
        }
    }
}
