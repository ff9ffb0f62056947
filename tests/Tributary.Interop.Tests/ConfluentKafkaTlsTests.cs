using System.Security.Cryptography.X509Certificates;
using Confluent.Kafka;
using Tributary.Interop.Tests.Support;
using Tributary.Server;
using Tributary.Tests.Shared.Tls;

namespace Tributary.Interop.Tests;

/// <summary>
/// Confluent.Kafka (librdkafka with its own OpenSSL) on an embedded broker started with a TLS certificate and SASL users
/// in its options: a producer and a consumer group log in with SCRAM-SHA-256 over SASL_SSL, trusting the authority
/// made by the test.
/// </summary>
public sealed class ConfluentKafkaTlsTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _work = Directory.CreateTempSubdirectory("tributary-confluent-tls-").FullName;

    public void Dispose() => Directory.Delete(_work, recursive: true);

    [Fact]
    public async Task ProducerAndConsumerLogInWithScramOverSaslSsl()
    {
        output.WriteLine($"librdkafka {Librdkafka.EnsureLoaded()}");
        var authority = TestCertificates.Authority("Tributary Confluent CA");
        var options = new TributaryBrokerOptions { TlsCertificate = TestCertificates.Server(authority), Topics = { ["secured"] = 2 } };
        options.SaslUsers["dave"] = "d4ve-pw";
        await using var broker = await TributaryBroker.StartAsync(options);
        var authorityPath = Path.Combine(_work, "ca.pem");
        await File.WriteAllTextAsync(authorityPath, authority.ExportCertificatePem());

        var config = new ClientConfig
        {
            BootstrapServers = broker.BootstrapServers,
            SecurityProtocol = SecurityProtocol.SaslSsl,
            SslCaLocation = authorityPath,
            SaslMechanism = SaslMechanism.ScramSha256,
            SaslUsername = "dave",
            SaslPassword = "d4ve-pw",
        };
        using (var producer = new ProducerBuilder<Null, string>(new ProducerConfig(config) { Acks = Acks.All }).Build())
        {
            for (var i = 0; i < 10; i++)
            {
                await producer.ProduceAsync("secured", new Message<Null, string> { Value = $"m{i}" });
            }
        }

        using var consumer = new ConsumerBuilder<Ignore, string>(new ConsumerConfig(config) { GroupId = "tls-group", AutoOffsetReset = AutoOffsetReset.Earliest }).Build();
        consumer.Subscribe("secured");
        var values = new List<string>();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (values.Count < 10 && DateTime.UtcNow < deadline)
        {
            if (consumer.Consume(TimeSpan.FromSeconds(1)) is { } record)
            {
                values.Add(record.Message.Value);
            }
        }

        consumer.Close();
        Assert.Equal(Enumerable.Range(0, 10).Select(i => $"m{i}").Order(StringComparer.Ordinal), values.Order(StringComparer.Ordinal));
    }
}
