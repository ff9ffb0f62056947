using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Tributary.Tests.Shared.Tls;

/// <summary>
/// Certificates made at test time (no key is committed): an authority, a broker certificate for 127.0.0.1 and
/// localhost, and client certificates it issues. ECDSA P-256 keys, quick to make and spoken by every client tested.
/// </summary>
internal static class TestCertificates
{
    public static X509Certificate2 Authority(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name},O=Tributary Tests", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
    }

    /// <summary>The broker's certificate: serverAuth, for 127.0.0.1 and localhost.</summary>
    public static X509Certificate2 Server(X509Certificate2 authority, string name = "broker") => Issue(authority, $"CN={name},O=Tributary Tests", server: true);

    /// <summary>A client certificate with <paramref name="subject"/> (an X.500 name, CN=alice,O=…).</summary>
    public static X509Certificate2 Client(X509Certificate2 authority, string subject) => Issue(authority, subject, server: false);

    public static string CertificatePem(X509Certificate2 certificate) => certificate.ExportCertificatePem();

    public static string KeyPem(X509Certificate2 certificate)
    {
        using var key = certificate.GetECDsaPrivateKey()!;
        return key.ExportPkcs8PrivateKeyPem();
    }

    /// <summary>A PEM keystore file (certificate then key) at <paramref name="path"/>, as Kafka's ssl.keystore.type=PEM reads it.</summary>
    public static string WritePemKeystore(X509Certificate2 certificate, string path)
    {
        File.WriteAllText(path, CertificatePem(certificate) + "\n" + KeyPem(certificate));
        return path;
    }

    private static X509Certificate2 Issue(X509Certificate2 authority, string subject, bool server)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyAgreement, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [server ? new Oid("1.3.6.1.5.5.7.3.1") : new Oid("1.3.6.1.5.5.7.3.2")], false));
        if (server)
        {
            var names = new SubjectAlternativeNameBuilder();
            names.AddDnsName("localhost");
            names.AddIpAddress(IPAddress.Loopback);
            request.CertificateExtensions.Add(names.Build());
        }

        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7F;
        using var issued = request.Create(authority, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(29), serial);
        return issued.CopyWithPrivateKey(key);
    }
}
