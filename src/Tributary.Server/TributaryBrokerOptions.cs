using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;

namespace Tributary.Server;

/// <summary>How to start an embedded broker. Defaults suit tests: a free loopback port and in-memory storage.</summary>
public sealed class TributaryBrokerOptions
{
    public string Host { get; set; } = "127.0.0.1";

    /// <summary>0 picks a free port.</summary>
    public int Port { get; set; }

    /// <summary>In memory (default) or on disk under <see cref="DataDirectory"/>.</summary>
    public bool InMemory { get; set; } = true;

    /// <summary>Where on-disk data goes; null makes a temporary directory, deleted on dispose unless <see cref="KeepDataDirectory"/>.</summary>
    public string? DataDirectory { get; set; }

    public bool KeepDataDirectory { get; set; }

    /// <summary>
    /// Broker configuration overrides under Kafka's key names (e.g. num.partitions). Starts with
    /// tributary.admin.listeners empty (no HTTP admin listener; set it to http://127.0.0.1:0 for one on a free port,
    /// so parallel tests never fight over 9644) and group.initial.rebalance.delay.ms=0, as Kafka's development server.properties and Testcontainers do, so a test's
    /// consumer group forms at once instead of 3 s after its first member joins; set it to test the delay.
    /// </summary>
    public IDictionary<string, string> Config { get; } = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["group.initial.rebalance.delay.ms"] = "0",
        ["tributary.admin.listeners"] = "",
    };

    /// <summary>Topics to create before the broker accepts connections: name → partition count.</summary>
    public IDictionary<string, int> Topics { get; } = new Dictionary<string, int>(StringComparer.Ordinal);

    /// <summary>
    /// SASL users, name → password. When there are any, the broker's listener is SASL_PLAINTEXT (PLAIN, SCRAM-SHA-256 and
    /// SCRAM-SHA-512, as sasl.enabled.mechanisms allows) and each user can log in with PLAIN and both SCRAM mechanisms
    /// (credentials stored at start with 4096 iterations).
    /// </summary>
    public IDictionary<string, string> SaslUsers { get; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>
    /// The broker's TLS certificate, with its private key. When set, the broker's listener is SSL (SASL_SSL with
    /// <see cref="SaslUsers"/>), its keystore the certificate and key as inline PEM (ssl.keystore.type=PEM).
    /// </summary>
    public X509Certificate2? TlsCertificate { get; set; }

    /// <summary>
    /// Authorities client certificates must chain to (ssl.truststore.certificates); with ssl.client.auth set to
    /// requested or required in <see cref="Config"/>, for tests of a client's mTLS settings.
    /// </summary>
    public X509Certificate2Collection TlsTrustedCertificates { get; } = [];

    /// <summary>
    /// Routes, pages or middleware the admin listener adds after its own (<see cref="Admin.AdminListener.MapRoutes"/>),
    /// each given the broker; only used when tributary.admin.listeners is set.
    /// </summary>
    public IList<Action<Microsoft.AspNetCore.Builder.WebApplication, TributaryBroker>> AdminRoutes { get; } = [];

    public TimeProvider? TimeProvider { get; set; }

    public ILoggerFactory? LoggerFactory { get; set; }

    /// <summary>Wraps the replication links of cluster mode (TributaryCluster's faults); null: the wire links as they are.</summary>
    internal Func<Broker.Cluster.ReplicaLinkFactory, Broker.Cluster.ReplicaLinkFactory>? WrapReplicaLinks { get; set; }
}
