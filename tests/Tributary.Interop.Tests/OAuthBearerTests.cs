using System.Collections.Concurrent;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using Tributary.Interop.Tests.Support;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using Tributary.Server;
using Tributary.Server.Client;
using Tributary.Tests.Shared.Tls;
using Tributary.TestSupport;

namespace Tributary.Interop.Tests;

/// <summary>
/// OAUTHBEARER and KIP-368 re-authentication with real clients on a SASL_PLAINTEXT listener: kcat (Debian's
/// librdkafka) with its unsecured JWT, also over SASL_SSL; Confluent.Kafka with RS256 tokens the test signs against a JWKS file it
/// writes, a token from a foreign key refused; Confluent.Kafka's librdkafka re-authenticating on the same connection
/// every session lifetime while it produces; a raw client that does not re-authenticate closed after its session.
/// </summary>
public sealed class OAuthBearerTests(ITestOutputHelper output) : IDisposable
{
    private const string Jaas = "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;";
    private static readonly X509Certificate2 Authority = TestCertificates.Authority("Tributary OAuth CA");
    private readonly string _work = Directory.CreateTempSubdirectory("tributary-oauth-").FullName;
    private readonly TestJwt _keys = new();

    [Fact]
    public async Task KcatWithAnUnsecuredJwtProducesAndConsumesAsItsPrincipal()
    {
        await using var broker = await StartAsync(signed: false);
        await KcatRoundTripAsync(broker, ["-X", "security.protocol=SASL_PLAINTEXT"]);
    }

    [Fact]
    public async Task KcatWithAnUnsecuredJwtProducesAndConsumesOverSaslSsl()
    {
        await using var broker = await StartAsync(signed: false, tls: true);
        var authority = Path.Combine(_work, "ca.pem");
        await File.WriteAllTextAsync(authority, TestCertificates.CertificatePem(Authority));
        await KcatRoundTripAsync(broker, ["-X", "security.protocol=SASL_SSL", "-X", "ssl.ca.location=" + authority]);
    }

    /// <summary>kcat produces 20 records as alice with an unsecured JWT over <paramref name="security"/> and consumes them back.</summary>
    private async Task KcatRoundTripAsync(TributaryBroker broker, string[] security)
    {
        var principals = RecordPrincipals(broker, ApiKey.Produce);
        var input = Path.Combine(_work, "in.txt");
        await File.WriteAllLinesAsync(input, Enumerable.Range(0, 20).Select(i => $"k{i}\tv{i}"));
        string[] sasl = [.. security, "-X", "sasl.mechanisms=OAUTHBEARER", "-X", "enable.sasl.oauthbearer.unsecure.jwt=true", "-X", "sasl.oauthbearer.config=principal=alice"];

        var produced = await KcatRunner.ProduceLinesAsync(broker.BootstrapServers, "tokens", input, [.. sasl, "-X", "acks=all"]);
        var outputFile = Path.Combine(_work, "out.json");
        var consumed = await KcatRunner.RunAsync(["-C", "-b", broker.BootstrapServers, "-t", "tokens", "-o", "beginning", "-e", "-J", "-q", .. sasl], outputFile);

        Assert.True(produced.ExitCode == 0, "kcat -P failed: " + produced.Describe());
        Assert.True(consumed.ExitCode == 0, "kcat -C failed: " + consumed.Describe());
        var payloads = File.ReadLines(outputFile).Where(l => l.Length > 0).Select(l => JsonSerializer.Deserialize<KcatMessage>(l)!.Payload);
        Assert.Equal(Enumerable.Range(0, 20).Select(i => $"v{i}").Order(StringComparer.Ordinal), payloads.Order(StringComparer.Ordinal));
        Assert.Equal(["User:alice"], principals.Distinct());
    }

    [Fact]
    public async Task ConfluentKafkaWithASignedJwtProducesAndConsumes()
    {
        output.WriteLine($"librdkafka {Librdkafka.EnsureLoaded()}");
        await using var broker = await StartAsync(signed: true);
        var principals = RecordPrincipals(broker, ApiKey.Produce);
        var config = SaslConfig(broker);

        using (var producer = new ProducerBuilder<Null, string>(new ProducerConfig(config) { Acks = Acks.All }).SetOAuthBearerTokenRefreshHandler(Refresh(Token)).Build())
        {
            for (var i = 0; i < 10; i++)
            {
                await producer.ProduceAsync("tokens", new Message<Null, string> { Value = $"m{i}" });
            }
        }

        using var consumer = new ConsumerBuilder<Ignore, string>(new ConsumerConfig(config) { GroupId = "oauth-group", AutoOffsetReset = AutoOffsetReset.Earliest })
            .SetOAuthBearerTokenRefreshHandler(Refresh(Token)).Build();
        consumer.Subscribe("tokens");
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
        Assert.Equal(["User:svc-orders"], principals.Distinct());
    }

    [Fact]
    public async Task ConfluentKafkaWithATokenFromAForeignKeyFailsToAuthenticate()
    {
        output.WriteLine($"librdkafka {Librdkafka.EnsureLoaded()}");
        await using var broker = await StartAsync(signed: true);
        var errors = new ConcurrentQueue<Error>();
        using var producer = new ProducerBuilder<Null, string>(new ProducerConfig(SaslConfig(broker)) { MessageTimeoutMs = 5000 })
            .SetOAuthBearerTokenRefreshHandler(Refresh(() => TestJwt.Rs256WithForeignKey(Claims())))
            .SetErrorHandler((_, error) => errors.Enqueue(error))
            .Build();

        var failure = await Assert.ThrowsAsync<ProduceException<Null, string>>(() => producer.ProduceAsync("tokens", new Message<Null, string> { Value = "x" }));

        Assert.Equal(Confluent.Kafka.ErrorCode.Local_MsgTimedOut, failure.Error.Code);
        Assert.Contains(errors, e => e.Code == Confluent.Kafka.ErrorCode.Local_Authentication && e.Reason.Contains("invalid_token", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ConfluentKafkaReauthenticatesOnTheSameConnectionAcrossSessionLifetimes()
    {
        output.WriteLine($"librdkafka {Librdkafka.EnsureLoaded()}");
        await using var broker = await StartAsync(signed: true, ("connections.max.reauth.ms", "1500"));
        var handshakes = new ConcurrentDictionary<string, int>();
        broker.Intercept(ApiKey.SaslHandshake, context =>
        {
            handshakes.AddOrUpdate(context.Connection.ConnectionId, 1, (_, n) => n + 1);
            return InterceptDecisionContinue();
        });
        var errors = new ConcurrentQueue<Error>();
        using var producer = new ProducerBuilder<Null, string>(new ProducerConfig(SaslConfig(broker)) { Acks = Acks.All })
            .SetOAuthBearerTokenRefreshHandler(Refresh(Token))
            .SetErrorHandler((_, error) => errors.Enqueue(error))
            .Build();

        // Produce until one connection has authenticated four times: three re-authentications, three lifetimes survived.
        // Each ProduceAsync returns only once delivered: a connection closed under it would surface as an error.
        var sent = 0;
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (handshakes.Values.DefaultIfEmpty(0).Max() < 4 && DateTime.UtcNow < deadline)
        {
            await producer.ProduceAsync("tokens", new Message<Null, string> { Value = $"r{sent++}" });
            await Task.Delay(100);
        }

        Assert.True(handshakes.Values.Max() >= 4, $"handshakes per connection: {string.Join(", ", handshakes.Values)}");
        Assert.Empty(errors);
        output.WriteLine($"{sent} records delivered; handshakes per connection: {string.Join(", ", handshakes.Values)}");
    }

    [Fact]
    public async Task ARawClientThatDoesNotReauthenticateIsClosedAfterItsSession()
    {
        await using var broker = await StartAsync(signed: false, ("connections.max.reauth.ms", "1000"));
        await using var client = await KafkaWireClient.ConnectAsync(broker.BootstrapServers);
        var token = TestJwt.Unsecured(new { sub = "alice", exp = DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 600 });

        var handshake = await WireProbe.SendAsync<SaslHandshakeRequest, SaslHandshakeResponse>(client, ApiKey.SaslHandshake, 1, new SaslHandshakeRequest { Mechanism = "OAUTHBEARER" });
        var authenticated = await WireProbe.SendAsync<SaslAuthenticateRequest, SaslAuthenticateResponse>(client, ApiKey.SaslAuthenticate, 2,
            new SaslAuthenticateRequest { AuthBytes = Encoding.UTF8.GetBytes($"n,,\u0001auth=Bearer {token}\u0001\u0001") });
        var metadata = await WireProbe.SendAsync<MetadataRequest, MetadataResponse>(client, ApiKey.Metadata, 12, new MetadataRequest { Topics = [] });
        await Task.Delay(TimeSpan.FromMilliseconds(authenticated.SessionLifetimeMs + 500));
        await client.SendOnlyAsync(ApiKey.Metadata, 12, new MetadataRequest { Topics = [] });

        Assert.Equal((0, 0), (handshake.ErrorCode, authenticated.ErrorCode));
        Assert.Equal(1000, authenticated.SessionLifetimeMs);
        Assert.Single(metadata.Brokers);
        await WireProbe.AssertClosedAsync(client, "a request after the session ended");
    }

    private Task<TributaryBroker> StartAsync(bool signed, params (string Key, string Value)[] extra) => StartAsync(signed, tls: false, extra);

    /// <summary>A broker with one SASL_PLAINTEXT listener, or SASL_SSL with a certificate of <see cref="Authority"/>.</summary>
    private async Task<TributaryBroker> StartAsync(bool signed, bool tls, params (string Key, string Value)[] extra)
    {
        var listener = tls ? "SASL_SSL" : "SASL_PLAINTEXT";
        var options = new TributaryBrokerOptions { Topics = { ["tokens"] = 1 }, TlsCertificate = tls ? TestCertificates.Server(Authority) : null };
        options.Config["listeners"] = listener + "://127.0.0.1:0";
        options.Config["sasl.enabled.mechanisms"] = "OAUTHBEARER";
        options.Config[Broker.Config.Listeners.PerListenerKey(listener, "oauthbearer.sasl.jaas.config")] = Jaas;
        if (signed)
        {
            options.Config[Broker.Config.Listeners.PerListenerKey(listener, "oauthbearer.sasl.server.callback.handler.class")] = "org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler";
            options.Config["sasl.oauthbearer.jwks.endpoint.url"] = _keys.WriteJwks(Path.Combine(_work, "jwks.json"));
            options.Config["sasl.oauthbearer.expected.audience"] = "tributary";
            options.Config["sasl.oauthbearer.expected.issuer"] = "https://idp.test";
        }

        foreach (var (key, value) in extra)
        {
            options.Config[key] = value;
        }

        return await TributaryBroker.StartAsync(options);
    }

    private static ConcurrentQueue<string> RecordPrincipals(TributaryBroker broker, ApiKey key)
    {
        var principals = new ConcurrentQueue<string>();
        broker.Intercept(key, context =>
        {
            principals.Enqueue(context.Connection.Principal);
            return InterceptDecisionContinue();
        });
        return principals;
    }

    private static Broker.Dispatch.InterceptDecision InterceptDecisionContinue() => Broker.Dispatch.InterceptDecision.Continue;

    private static ClientConfig SaslConfig(TributaryBroker broker) => new()
    {
        BootstrapServers = broker.BootstrapServers,
        SecurityProtocol = SecurityProtocol.SaslPlaintext,
        SaslMechanism = SaslMechanism.OAuthBearer,
    };

    private static object Claims()
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        return new { sub = "svc-orders", aud = "tributary", iss = "https://idp.test", iat = now, exp = now + 300 };
    }

    private string Token() => _keys.Rs256(Claims());

    // librdkafka asks for a token when it starts and before it expires; the principal is only for the client's logs.
    private static Action<IClient, string> Refresh(Func<string> token) => (client, _) =>
        client.OAuthBearerSetToken(token(), DateTimeOffset.UtcNow.AddMinutes(5).ToUnixTimeMilliseconds(), "svc-orders");

    public void Dispose()
    {
        _keys.Dispose();
        Directory.Delete(_work, recursive: true);
    }
}
