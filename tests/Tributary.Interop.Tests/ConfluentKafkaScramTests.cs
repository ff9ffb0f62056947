using System.Text;
using Confluent.Kafka;
using Confluent.Kafka.Admin;
using Tributary.Interop.Tests.Support;
using Tributary.Server;

namespace Tributary.Interop.Tests;

/// <summary>
/// Confluent.Kafka on a broker with two listeners, PLAINTEXT and SASL_PLAINTEXT: the admin client (on PLAINTEXT)
/// creates SCRAM users with AlterUserScramCredentials and describes them; a producer and a consumer on the SASL
/// listener log in with SCRAM-SHA-512 as that user, and each listener's clients are told that listener's address.
/// </summary>
public sealed class ConfluentKafkaScramTests(ITestOutputHelper output)
{
    [Fact]
    public async Task AdminCreatesAScramUserThatAProducerAndConsumerLogInWith()
    {
        output.WriteLine($"librdkafka {Librdkafka.EnsureLoaded()}");
        var options = new TributaryBrokerOptions { Topics = { ["scram"] = 2 } };
        options.Config["listeners"] = "PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0";
        await using var broker = await TributaryBroker.StartAsync(options);
        var plaintext = broker.BootstrapServersOf("PLAINTEXT");
        var sasl = broker.BootstrapServersOf("SASL_PLAINTEXT");

        using (var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = plaintext }).Build())
        {
            await admin.AlterUserScramCredentialsAsync(
            [
                new UserScramCredentialUpsertion
                {
                    User = "carol",
                    ScramCredentialInfo = new ScramCredentialInfo { Mechanism = ScramMechanism.ScramSha512, Iterations = 8192 },
                    Password = Encoding.UTF8.GetBytes("c4rol-pw"),
                },
            ]);
            var described = await admin.DescribeUserScramCredentialsAsync(["carol"]);
            var info = Assert.Single(Assert.Single(described.UserScramCredentialsDescriptions).ScramCredentialInfos);
            Assert.Equal((ScramMechanism.ScramSha512, 8192), (info.Mechanism, info.Iterations));

            var metadata = admin.GetMetadata(TimeSpan.FromSeconds(10));
            Assert.Equal(plaintext, $"{metadata.Brokers[0].Host}:{metadata.Brokers[0].Port}");
        }

        var saslConfig = new ClientConfig
        {
            BootstrapServers = sasl,
            SecurityProtocol = SecurityProtocol.SaslPlaintext,
            SaslMechanism = SaslMechanism.ScramSha512,
            SaslUsername = "carol",
            SaslPassword = "c4rol-pw",
        };
        using (var producer = new ProducerBuilder<Null, string>(new ProducerConfig(saslConfig) { Acks = Acks.All }).Build())
        {
            for (var i = 0; i < 10; i++)
            {
                await producer.ProduceAsync("scram", new Message<Null, string> { Value = $"m{i}" });
            }
        }

        using var consumer = new ConsumerBuilder<Ignore, string>(new ConsumerConfig(saslConfig) { GroupId = "scram-group", AutoOffsetReset = AutoOffsetReset.Earliest }).Build();
        consumer.Subscribe("scram");
        var values = new List<string>();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (values.Count < 10 && DateTime.UtcNow < deadline)
        {
            if (consumer.Consume(TimeSpan.FromSeconds(1)) is { } record)
            {
                values.Add(record.Message.Value);
            }
        }

        Assert.Equal(Enumerable.Range(0, 10).Select(i => $"m{i}").Order(StringComparer.Ordinal), values.Order(StringComparer.Ordinal));
        using var saslAdmin = new AdminClientBuilder(new AdminClientConfig(saslConfig)).Build();
        var saslMetadata = saslAdmin.GetMetadata(TimeSpan.FromSeconds(10));
        Assert.Equal(sasl, $"{saslMetadata.Brokers[0].Host}:{saslMetadata.Brokers[0].Port}");
        consumer.Close();
    }
}
