using System.Security.Cryptography.X509Certificates;

namespace Tributary.Tests.Shared.Cluster;

/// <summary>
/// TLS of an <see cref="EtcdCluster"/>'s client URLs: the server certificate and key files (PEM), the authority that
/// issued them (the health check trusts it), and, for etcd's --client-cert-auth, the authority file client
/// certificates must chain to with a client certificate the health check shows.
/// </summary>
public sealed record EtcdTls(string CertificateFile, string KeyFile, X509Certificate2 Authority, string? ClientCertificateAuthority = null, X509Certificate2? HealthClientCertificate = null);
