using Tributary.Broker.Config;

namespace Tributary.Broker.Tests;

/// <summary>
/// The inter-broker keys of a cluster-mode broker (Kafka's rules): the listener is inter.broker.listener.name, else
/// security.inter.broker.protocol's; the two exclude each other; a SASL inter-broker listener needs the mechanism
/// enabled and the broker's own login. A bad combination fails start-up with a message naming the key.
/// </summary>
public sealed class InterBrokerConfigTests
{
    private const string Etcd = "http://127.0.0.1:2379";
    private const string ScramLogin = "org.apache.kafka.common.security.scram.ScramLoginModule required username=\"broker\" password=\"secret\";";

    private static (BrokerConfig? Config, IReadOnlyList<string> Errors) Parse(params string[] settings) =>
        BrokerConfig.Parse(settings.Select(s => KeyValuePair.Create(s[..s.IndexOf('=')], s[(s.IndexOf('=') + 1)..])));

    [Fact]
    public void The_listener_is_the_named_one_else_the_protocol_one()
    {
        var named = Parse("tributary.metadata.etcd.endpoints=" + Etcd, "listeners=CLIENT://127.0.0.1:9092,INTERNAL://127.0.0.1:9093",
            "listener.security.protocol.map=CLIENT:SSL,INTERNAL:PLAINTEXT", "listener.name.client.ssl.keystore.location=/k.p12", "inter.broker.listener.name=internal");
        var byProtocol = Parse("tributary.metadata.etcd.endpoints=" + Etcd, "listeners=PLAINTEXT://127.0.0.1:9092,SASL_PLAINTEXT://127.0.0.1:9093",
            "security.inter.broker.protocol=SASL_PLAINTEXT", "sasl.mechanism.inter.broker.protocol=SCRAM-SHA-256",
            "listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config=" + ScramLogin);

        Assert.Empty(named.Errors);
        Assert.Equal("INTERNAL", named.Config!.InterBrokerListener);
        Assert.Empty(byProtocol.Errors);
        Assert.Equal("SASL_PLAINTEXT", byProtocol.Config!.InterBrokerListener);
        Assert.Equal(("broker", "secret", (string?)null), InterBrokerConfig.LoginFor(byProtocol.Config, "SASL_PLAINTEXT", "SCRAM-SHA-256"));
    }

    [Theory]
    [InlineData("exclude each other", "listeners=INTERNAL://127.0.0.1:9092", "listener.security.protocol.map=INTERNAL:PLAINTEXT", "inter.broker.listener.name=INTERNAL", "security.inter.broker.protocol=PLAINTEXT")]
    [InlineData("inter.broker.listener.name: the inter-broker listener REPLICATION is not one of the listeners (PLAINTEXT)", "inter.broker.listener.name=REPLICATION")]
    [InlineData("security.inter.broker.protocol: the inter-broker listener PLAINTEXT is not one of the listeners (SASL_SSL)", "listeners=SASL_SSL://127.0.0.1:9092", "ssl.keystore.location=/k.p12")]
    [InlineData("sasl.mechanism.inter.broker.protocol PLAIN is not enabled on the inter-broker listener SASL_PLAINTEXT (SCRAM-SHA-512)",
        "listeners=SASL_PLAINTEXT://127.0.0.1:9092", "security.inter.broker.protocol=SASL_PLAINTEXT", "sasl.enabled.mechanisms=SCRAM-SHA-512")]
    [InlineData("needs the broker's login in listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config",
        "listeners=SASL_PLAINTEXT://127.0.0.1:9092", "security.inter.broker.protocol=SASL_PLAINTEXT", "sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512")]
    [InlineData("listener.name.sasl_plaintext.plain.sasl.jaas.config needs username=",
        "listeners=SASL_PLAINTEXT://127.0.0.1:9092", "security.inter.broker.protocol=SASL_PLAINTEXT",
        "listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_alice=\"a\";")]
    public void A_cluster_broker_with_a_bad_combination_does_not_start(string error, params string[] settings)
    {
        var (config, errors) = Parse([.. settings, "tributary.metadata.etcd.endpoints=" + Etcd]);

        Assert.Null(config);
        Assert.Contains(errors, e => e.Contains(error, StringComparison.Ordinal));
    }

    [Fact]
    public void A_single_node_needs_no_inter_broker_listener()
    {
        var (config, errors) = Parse("listeners=SASL_PLAINTEXT://127.0.0.1:9092");

        Assert.Empty(errors);
        Assert.NotNull(config);
    }

    [Fact]
    public void A_scram_login_config_is_checked_and_never_quoted()
    {
        var (_, errors) = Parse("listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=NotAModule required password=\"hunter2\";");

        Assert.Contains(errors, e => e.Contains("expected the login module org.apache.kafka.common.security.scram.ScramLoginModule", StringComparison.Ordinal));
        Assert.DoesNotContain(errors, e => e.Contains("hunter2", StringComparison.Ordinal));
    }
}
