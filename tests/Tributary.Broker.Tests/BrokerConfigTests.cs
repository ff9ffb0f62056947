using Tributary.Broker.Config;

namespace Tributary.Broker.Tests;

/// <summary>BrokerConfig.Parse: a mistake in a properties file is reported, never silently ignored.</summary>
public sealed class BrokerConfigTests
{
    private static (BrokerConfig? Config, IReadOnlyList<string> Errors) Parse(params (string Key, string Value)[] pairs) =>
        BrokerConfig.Parse(pairs.Select(p => KeyValuePair.Create(p.Key, p.Value)));

    [Fact]
    public void An_unknown_key_is_an_error_naming_it()
    {
        var (config, errors) = Parse(("num.partitions", "3"), ("num.partitons", "3"));

        Assert.Null(config);
        Assert.Contains("num.partitons", Assert.Single(errors));
    }

    [Theory]
    [InlineData("num.partitions", "0")]
    [InlineData("num.partitions", "many")]
    [InlineData("node.id", "-1")]
    [InlineData("auto.create.topics.enable", "yes")]
    [InlineData("tributary.storage", "tape")]
    [InlineData("tributary.log.cache.drop.behind.bytes", "-2")]
    [InlineData("tributary.log.cache.drop.behind.bytes", "lots")]
    [InlineData("tributary.log.cache.drop.after.read", "sometimes")]
    [InlineData("default.replication.factor", "0")]
    [InlineData("tributary.metadata.etcd.endpoints", "localhost:2379")]
    [InlineData("tributary.metadata.etcd.prefix", "tributary/")]
    [InlineData("message.max.bytes", "99999999999")]
    [InlineData("group.initial.rebalance.delay.ms", "-1")]
    [InlineData("group.initial.rebalance.delay.ms", "86400000")]
    [InlineData("log.segment.bytes", "20")]
    public void A_bad_value_is_an_error_naming_the_key(string key, string value)
    {
        var (config, errors) = Parse((key, value));

        Assert.Null(config);
        Assert.Contains(key, Assert.Single(errors));
    }

    [Fact]
    public void The_initial_rebalance_delay_defaults_to_kafkas_three_seconds_and_zero_turns_it_off()
    {
        Assert.Equal(3000, Parse().Config!.GroupInitialRebalanceDelayMs);
        Assert.Equal(0, Parse(("group.initial.rebalance.delay.ms", "0")).Config!.GroupInitialRebalanceDelayMs);
    }

    [Fact]
    public void The_page_cache_drop_is_off_by_default_and_takes_a_distance_in_bytes()
    {
        Assert.Equal(-1, Parse().Config!.LogCacheDropBehindBytes);
        Assert.Equal(268435456, Parse(("tributary.log.cache.drop.behind.bytes", "268435456")).Config!.LogCacheDropBehindBytes);
        Assert.Equal(0, Parse(("tributary.log.cache.drop.behind.bytes", "0")).Config!.LogCacheDropBehindBytes);
    }

    [Fact]
    public void The_drop_after_read_is_decided_by_the_machine_by_default_or_set_either_way()
    {
        Assert.Null(Parse().Config!.LogCacheDropAfterRead);
        Assert.Null(Parse(("tributary.log.cache.drop.after.read", "auto")).Config!.LogCacheDropAfterRead);
        Assert.True(Parse(("tributary.log.cache.drop.after.read", "true")).Config!.LogCacheDropAfterRead);
        Assert.False(Parse(("tributary.log.cache.drop.after.read", "false")).Config!.LogCacheDropAfterRead);
    }

    [Fact]
    public void Every_error_is_reported_at_once()
    {
        var (_, errors) = Parse(("bogus", "1"), ("num.partitions", "0"), ("listeners", "nonsense"));

        Assert.Equal(3, errors.Count);
    }

    [Theory]
    [InlineData("PLAINTEXT://0.0.0.0:19092", "0.0.0.0", 19092)]
    [InlineData("PLAINTEXT://[::1]:9093", "::1", 9093)]
    [InlineData("localhost:9094", "localhost", 9094)]
    [InlineData("PLAINTEXT://a:1,SASL_PLAINTEXT://b:2", "a", 1)]
    public void Listeners_give_the_host_and_port(string listeners, string host, int port)
    {
        var (config, errors) = Parse(("listeners", listeners));

        Assert.Empty(errors);
        Assert.Equal((host, port), (config!.ListenerHost, config.ListenerPort));
        Assert.Equal(host, config.AdvertisedHostOrListener);
    }

    [Theory]
    [InlineData("PLAINTEXT://host")]
    [InlineData("PLAINTEXT://host:port")]
    [InlineData("PLAINTEXT://host:70000")]
    [InlineData("PLAINTEXT://:9092")]
    public void Listeners_without_a_usable_host_and_port_are_errors(string listeners)
    {
        var (config, errors) = Parse(("listeners", listeners));

        Assert.Null(config);
        Assert.Contains("listeners", Assert.Single(errors));
    }

    [Theory]
    [InlineData("SSL://127.0.0.1:9093", "SSL")]
    [InlineData("SASL_SSL://localhost:9093", "SASL_SSL")]
    [InlineData("PLAINTEXT://127.0.0.1:9092,SSL://127.0.0.1:9093", "SSL")]
    public void A_TLS_listener_without_a_keystore_is_an_error_never_served_in_plaintext(string listeners, string listener)
    {
        var (config, errors) = Parse(("listeners", listeners));

        Assert.Null(config);
        Assert.Equal($"listener {listener}: a TLS listener needs ssl.keystore.location or ssl.keystore.certificate.chain with ssl.keystore.key", Assert.Single(errors));
    }

    [Theory]
    [InlineData("ssl.keystore.certificate.chain", "an inline keystore needs both ssl.keystore.certificate.chain and ssl.keystore.key")]
    [InlineData("ssl.truststore.certificates", "ssl.truststore.certificates needs ssl.truststore.type=PEM")]
    public void Inline_TLS_keys_need_their_partner_and_the_PEM_type(string key, string error)
    {
        var (config, errors) = Parse(("listeners", "SSL://127.0.0.1:9093"), ("ssl.keystore.location", "/etc/broker.p12"), ("ssl.keystore.type", "PKCS12"), (key, "-----BEGIN CERTIFICATE-----"));

        Assert.Null(config);
        Assert.EndsWith(key == "ssl.keystore.certificate.chain" ? "ssl.keystore.location and an inline ssl.keystore.certificate.chain/ssl.keystore.key exclude each other" : error, Assert.Single(errors), StringComparison.Ordinal);
    }

    [Fact]
    public void A_listeners_own_TLS_key_wins_over_the_brokers()
    {
        var (config, errors) = Parse(("listeners", "SSL://127.0.0.1:9093,INTERNAL://127.0.0.1:9094"), ("listener.security.protocol.map", "SSL:SSL,INTERNAL:SSL"),
            ("ssl.keystore.location", "/etc/broker.p12"), ("listener.name.internal.ssl.keystore.location", "/etc/internal.p12"), ("listener.name.internal.ssl.client.auth", "required"));

        Assert.Empty(errors);
        Assert.Equal(("/etc/broker.p12", "none"), (config!.SslValue("SSL", "ssl.keystore.location"), config.SslValue("SSL", "ssl.client.auth")));
        Assert.Equal(("/etc/internal.p12", "required"), (config.SslValue("INTERNAL", "ssl.keystore.location"), config.SslValue("INTERNAL", "ssl.client.auth")));
        Assert.Equal("JKS", config.SslValue("INTERNAL", "ssl.keystore.type"));
    }

    [Theory]
    [InlineData("PLAINTEXT://localhost:9092", "localhost")]
    [InlineData("PLAINTEXT://kafka-1.internal.example:9092", "kafka-1.internal.example")]
    public void Listeners_may_name_a_host_by_name(string listeners, string host)
    {
        var (config, errors) = Parse(("listeners", listeners));

        Assert.Empty(errors);
        Assert.Equal((host, 9092), (config!.ListenerHost, config.ListenerPort));
    }

    [Fact]
    public void A_listener_host_that_is_no_host_name_is_an_error()
    {
        var (config, errors) = Parse(("listeners", "PLAINTEXT://bad host!:9092"));

        Assert.Null(config);
        Assert.Contains("neither an IP address nor a host name", Assert.Single(errors), StringComparison.Ordinal);
    }

    [Fact]
    public void Connection_limits_have_kafkas_defaults_and_take_per_address_overrides()
    {
        var defaults = Parse().Config!;
        Assert.Equal((int.MaxValue, 600_000L, 30_000L), (defaults.ConnectionsMaxPerIp, defaults.ConnectionsMaxIdleMs, defaults.PartialRequestTimeoutMs));
        Assert.Empty(defaults.ConnectionsMaxPerIpOverrides);

        var set = Parse(("max.connections.per.ip", "0"), ("max.connections.per.ip.overrides", "127.0.0.1:5, kafka-client.example:7,[::1]:9")).Config!;
        Assert.Equal(0, set.ConnectionsMaxPerIp);
        Assert.Equal(new Dictionary<string, int> { ["127.0.0.1"] = 5, ["kafka-client.example"] = 7, ["::1"] = 9 }, set.ConnectionsMaxPerIpOverrides);
    }

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("127.0.0.1:many")]
    [InlineData("bad host:3")]
    public void A_per_address_override_that_is_not_host_colon_count_is_an_error(string overrides)
    {
        var (config, errors) = Parse(("max.connections.per.ip.overrides", overrides));

        Assert.Null(config);
        Assert.StartsWith("max.connections.per.ip.overrides=", Assert.Single(errors), StringComparison.Ordinal);
    }

    [Fact]
    public void Named_listeners_take_their_protocol_from_the_map_and_their_own_mechanisms()
    {
        var (config, errors) = Parse(
            ("listeners", "PLAINTEXT://127.0.0.1:9092,INTERNAL://127.0.0.1:9093"),
            ("listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,INTERNAL:SASL_PLAINTEXT"),
            ("advertised.listeners", "INTERNAL://kafka.internal:19093"),
            ("listener.name.internal.sasl.enabled.mechanisms", "SCRAM-SHA-512"));

        Assert.Empty(errors);
        Assert.Equal(["PLAINTEXT", "INTERNAL"], config!.Listeners.Select(l => l.Name));
        Assert.Equal(("PLAINTEXT", "SASL_PLAINTEXT"), (config.SecurityProtocolOf("PLAINTEXT"), config.SecurityProtocolOf("INTERNAL")));
        Assert.Equal(["SCRAM-SHA-512"], config.SaslMechanismsFor("INTERNAL"));
        Assert.Equal(["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"], config.SaslMechanismsFor("PLAINTEXT"));
        Assert.Equal(("kafka.internal", 19093), (config.AdvertisedListeners.Single().Host, config.AdvertisedListeners.Single().Port));
        Assert.Null(config.AdvertisedHost);
    }

    [Theory]
    [InlineData("listeners", "INTERNAL://127.0.0.1:9093", "listener INTERNAL has no security protocol in listener.security.protocol.map")]
    [InlineData("listeners", "PLAINTEXT://127.0.0.1:9092,SASL_PLAINTEXT://127.0.0.1:9092", "share port 9092")]
    [InlineData("listeners", "PLAINTEXT://a:1,PLAINTEXT://b:2", "listener name PLAINTEXT appears twice")]
    [InlineData("advertised.listeners", "SASL_PLAINTEXT://kafka.example:9093", "SASL_PLAINTEXT is not one of the listeners")]
    [InlineData("listener.name.sasl_plaintext.sasl.enabled.mechanisms", "GSSAPI", "GSSAPI not in PLAIN, SCRAM-SHA-256, SCRAM-SHA-512")]
    public void Listener_settings_that_do_not_fit_together_are_errors(string key, string value, string error)
    {
        var (config, errors) = Parse((key, value));

        Assert.Null(config);
        Assert.Contains(error, Assert.Single(errors), StringComparison.Ordinal);
    }

    [Fact]
    public void Advertised_listeners_override_the_listener_for_clients()
    {
        var (config, _) = Parse(("listeners", "PLAINTEXT://0.0.0.0:9092"), ("advertised.listeners", "PLAINTEXT://kafka.example:29092"));

        Assert.Equal(("kafka.example", 29092), (config!.AdvertisedHostOrListener, config.AdvertisedPort));
    }

    [Fact]
    public void Retention_in_milliseconds_beats_minutes_beats_hours()
    {
        Assert.Equal(2 * 3_600_000, Parse(("log.retention.hours", "2")).Config!.LogRetentionMs);
        Assert.Equal(3 * 60_000, Parse(("log.retention.hours", "2"), ("log.retention.minutes", "3")).Config!.LogRetentionMs);
        Assert.Equal(4, Parse(("log.retention.hours", "2"), ("log.retention.minutes", "3"), ("log.retention.ms", "4")).Config!.LogRetentionMs);
        Assert.Equal(-1, Parse(("log.retention.hours", "-1")).Config!.LogRetentionMs);
    }

    [Fact]
    public void Dynamic_values_overlay_the_static_ones_this_brokers_over_the_cluster_defaults()
    {
        var config = Parse(("num.partitions", " 3 "), ("log.retention.hours", "2")).Config!;
        Assert.Equal(new Dictionary<string, string> { ["num.partitions"] = "3", ["log.retention.hours"] = "2" }, config.StaticValues);

        var dynamic = config.WithDynamic(
            new Dictionary<string, string> { ["log.retention.ms"] = "1000", ["log.retention.bytes"] = "10" },
            new Dictionary<string, string> { ["log.retention.bytes"] = "20" });

        Assert.Equal((1000L, 20L, 3), (dynamic.LogRetentionMs, dynamic.TopicDefaults.Log.RetentionBytes, dynamic.NumPartitions));
        Assert.Equal(config.StaticValues, dynamic.StaticValues);
        Assert.Equal("20", dynamic.Explicit["log.retention.bytes"]);
        Assert.Same(config, config.WithDynamic(new Dictionary<string, string>(), new Dictionary<string, string>()));
    }
}
