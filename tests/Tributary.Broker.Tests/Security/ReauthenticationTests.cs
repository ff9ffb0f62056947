using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Tributary.Broker.Dispatch;
using Tributary.Broker.Handlers;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using Tributary.TestSupport;

namespace Tributary.Broker.Tests.Security;

/// <summary>
/// KIP-368 through the dispatcher on a manual clock: SaslAuthenticate tells the client its session lifetime
/// (connections.max.reauth.ms, per listener and mechanism, or an OAUTHBEARER token's exp if sooner); a request after
/// the session ended closes the connection unanswered; SaslHandshake + SaslAuthenticate on the same connection
/// renews it, with the same mechanism and principal or the connection is closed; without a session end there is
/// nothing to renew.
/// </summary>
public sealed class ReauthenticationTests : IDisposable
{
    private readonly ManualTimeProvider _time = new();
    private readonly TestBroker _broker;
    private readonly DispatchTestClient _client;

    public ReauthenticationTests()
    {
        _broker = new TestBroker(DispatchTestClient.BrokerConfigWith(
            "listeners=SASL_PLAINTEXT://127.0.0.1:9092",
            "sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,OAUTHBEARER",
            "listener.name.sasl_plaintext.plain.sasl.jaas.config=" + Tributary.Broker.Security.PlainJaasConfig.LoginModule + " required user_alice=\"a1\" user_bob=\"b1\";",
            "listener.name.sasl_plaintext.oauthbearer.sasl.jaas.config=" + Config.OAuthBearerConfig.LoginModule + " required;",
            "connection.failed.authentication.delay.ms=0",
            "connections.max.reauth.ms=60000",
            "listener.name.sasl_plaintext.scram-sha-256.connections.max.reauth.ms=5000"), _time);
        _client = new DispatchTestClient(HandlerCatalog.CreateDispatcher(_broker.Core, NullLoggerFactory.Instance));
    }

    [Fact]
    public async Task The_session_lifetime_is_sent_and_a_request_after_it_closes_the_connection()
    {
        var connection = Connection();
        var authenticated = await AuthenticateAsync(connection, "PLAIN", Plain("alice", "a1"));

        _time.Advance(TimeSpan.FromSeconds(60));
        await MetadataAsync(connection);
        _time.Advance(TimeSpan.FromMilliseconds(1));
        var outcome = await _client.DispatchAsync(connection, ApiKey.Metadata, 12, new MetadataRequest { Topics = [] });

        Assert.Equal(60_000, authenticated.SessionLifetimeMs);
        Assert.Equal(DispatchAction.Close, outcome.Action);
        Assert.Contains("SASL session of User:alice", outcome.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Re_authenticating_on_the_same_connection_renews_the_session()
    {
        var connection = Connection();
        await AuthenticateAsync(connection, "PLAIN", Plain("alice", "a1"));
        _time.Advance(TimeSpan.FromSeconds(50));

        var renewed = await AuthenticateAsync(connection, "PLAIN", Plain("alice", "a1"));
        _time.Advance(TimeSpan.FromSeconds(50));
        await MetadataAsync(connection);

        Assert.Equal(60_000, renewed.SessionLifetimeMs);
        Assert.Equal("User:alice", connection.Principal);
    }

    [Fact]
    public async Task Re_authenticating_as_another_principal_fails_and_closes()
    {
        var connection = Connection();
        await AuthenticateAsync(connection, "PLAIN", Plain("alice", "a1"));
        _time.Advance(TimeSpan.FromSeconds(30));
        await _client.SendAsync<SaslHandshakeRequest, SaslHandshakeResponse>(connection, ApiKey.SaslHandshake, 1, new SaslHandshakeRequest { Mechanism = "PLAIN" });

        var outcome = await _client.DispatchAsync(connection, ApiKey.SaslAuthenticate, 2, new SaslAuthenticateRequest { AuthBytes = Plain("bob", "b1") });

        Assert.Equal(DispatchAction.RespondAndClose, outcome.Action);
        var response = (SaslAuthenticateResponse)outcome.Response!;
        Assert.Equal((short)ErrorCode.SaslAuthenticationFailed, response.ErrorCode);
        Assert.Equal("Cannot change principals during re-authentication from User.alice: User.bob", response.ErrorMessage);
    }

    [Fact]
    public async Task Re_authenticating_with_another_mechanism_is_answered_then_the_next_frame_closes()
    {
        var connection = Connection();
        await AuthenticateAsync(connection, "PLAIN", Plain("alice", "a1"));
        _time.Advance(TimeSpan.FromSeconds(30));

        var handshake = await _client.SendAsync<SaslHandshakeRequest, SaslHandshakeResponse>(connection, ApiKey.SaslHandshake, 1, new SaslHandshakeRequest { Mechanism = "SCRAM-SHA-256" });
        var outcome = await _client.DispatchAsync(connection, ApiKey.SaslAuthenticate, 2, new SaslAuthenticateRequest { AuthBytes = Encoding.UTF8.GetBytes("n,,n=alice,r=abc") });

        Assert.Equal(0, handshake.ErrorCode);
        Assert.Equal(DispatchAction.RespondAndClose, outcome.Action);
        Assert.Contains("not supported for re-authentication of mechanism 'PLAIN'", outcome.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_second_re_authentication_within_a_second_is_refused_as_illegal_state()
    {
        var connection = Connection();
        await AuthenticateAsync(connection, "PLAIN", Plain("alice", "a1"));
        await AuthenticateAsync(connection, "PLAIN", Plain("alice", "a1"));

        var again = await _client.SendAsync<SaslHandshakeRequest, SaslHandshakeResponse>(connection, ApiKey.SaslHandshake, 1, new SaslHandshakeRequest { Mechanism = "PLAIN" });

        Assert.Equal((short)ErrorCode.IllegalSaslState, again.ErrorCode);
    }

    [Fact]
    public async Task An_oauthbearer_session_ends_at_the_tokens_exp_when_that_is_sooner()
    {
        var connection = Connection();
        var now = TestJwt.Seconds(_time.GetUtcNow());

        var authenticated = await AuthenticateAsync(connection, "OAUTHBEARER", OAuthBearerTests.ClientFirst(TestJwt.Unsecured(new { sub = "carol", exp = now + 20 })));
        _time.Advance(TimeSpan.FromSeconds(21));
        var outcome = await _client.DispatchAsync(connection, ApiKey.Metadata, 12, new MetadataRequest { Topics = [] });

        Assert.Equal(20_000, authenticated.SessionLifetimeMs);
        Assert.Equal(DispatchAction.Close, outcome.Action);
    }

    [Fact]
    public async Task A_mechanism_prefixed_listener_setting_overrides_the_brokers()
    {
        _broker.Core.Metadata.AlterScramCredentials([("alice", "SCRAM-SHA-256", Tributary.Broker.Security.Scram.Credential("SCRAM-SHA-256", "a1"))]);
        var connection = Connection();
        await _client.SendAsync<SaslHandshakeRequest, SaslHandshakeResponse>(connection, ApiKey.SaslHandshake, 1, new SaslHandshakeRequest { Mechanism = "SCRAM-SHA-256" });
        var first = await _client.SendAsync<SaslAuthenticateRequest, SaslAuthenticateResponse>(connection, ApiKey.SaslAuthenticate, 2,
            new SaslAuthenticateRequest { AuthBytes = Encoding.UTF8.GetBytes("n,,n=alice,r=abc") });
        var (final, _, _) = ScramTestClient.FinalMessage("SCRAM-SHA-256", "a1", "n=alice,r=abc", Encoding.UTF8.GetString(first.AuthBytes));

        var done = await _client.SendAsync<SaslAuthenticateRequest, SaslAuthenticateResponse>(connection, ApiKey.SaslAuthenticate, 2,
            new SaslAuthenticateRequest { AuthBytes = Encoding.UTF8.GetBytes(final) });

        Assert.Equal((0, 0L), (first.ErrorCode, first.SessionLifetimeMs));
        Assert.Equal((0, 5000L), (done.ErrorCode, done.SessionLifetimeMs));
    }

    [Fact]
    public async Task Without_a_session_end_nothing_expires_and_a_handshake_is_illegal_state()
    {
        using var broker = new TestBroker(DispatchTestClient.BrokerConfigWith(
            "listeners=SASL_PLAINTEXT://127.0.0.1:9092",
            "listener.name.sasl_plaintext.plain.sasl.jaas.config=" + Tributary.Broker.Security.PlainJaasConfig.LoginModule + " required user_alice=\"a1\";"), _time);
        var client = new DispatchTestClient(HandlerCatalog.CreateDispatcher(broker.Core, NullLoggerFactory.Instance));
        var connection = new ConnectionInfo("c2", null, "SASL_PLAINTEXT") { Authenticator = broker.Core.ListenerSecurity("SASL_PLAINTEXT").NewAuthenticator() };
        await client.SendAsync<SaslHandshakeRequest, SaslHandshakeResponse>(connection, ApiKey.SaslHandshake, 1, new SaslHandshakeRequest { Mechanism = "PLAIN" });
        var authenticated = await client.SendAsync<SaslAuthenticateRequest, SaslAuthenticateResponse>(connection, ApiKey.SaslAuthenticate, 2, new SaslAuthenticateRequest { AuthBytes = Plain("alice", "a1") });

        _time.Advance(TimeSpan.FromDays(2));
        var metadata = await client.SendAsync<MetadataRequest, MetadataResponse>(connection, ApiKey.Metadata, 12, new MetadataRequest { Topics = [] });
        var handshake = await client.SendAsync<SaslHandshakeRequest, SaslHandshakeResponse>(connection, ApiKey.SaslHandshake, 1, new SaslHandshakeRequest { Mechanism = "PLAIN" });

        Assert.Equal(0, authenticated.SessionLifetimeMs);
        Assert.Single(metadata.Brokers);
        Assert.Equal((short)ErrorCode.IllegalSaslState, handshake.ErrorCode);
    }

    private ConnectionInfo Connection() =>
        new("c1", null, "SASL_PLAINTEXT") { Authenticator = _broker.Core.ListenerSecurity("SASL_PLAINTEXT").NewAuthenticator() };

    private static byte[] Plain(string user, string password) => Encoding.UTF8.GetBytes($"\0{user}\0{password}");

    private async Task<SaslAuthenticateResponse> AuthenticateAsync(ConnectionInfo connection, string mechanism, byte[] token)
    {
        var handshake = await _client.SendAsync<SaslHandshakeRequest, SaslHandshakeResponse>(connection, ApiKey.SaslHandshake, 1, new SaslHandshakeRequest { Mechanism = mechanism });
        var response = await _client.SendAsync<SaslAuthenticateRequest, SaslAuthenticateResponse>(connection, ApiKey.SaslAuthenticate, 2, new SaslAuthenticateRequest { AuthBytes = token });
        Assert.Equal((0, 0), (handshake.ErrorCode, response.ErrorCode));
        return response;
    }

    private async Task MetadataAsync(ConnectionInfo connection) =>
        Assert.Single((await _client.SendAsync<MetadataRequest, MetadataResponse>(connection, ApiKey.Metadata, 12, new MetadataRequest { Topics = [] })).Brokers);

    public void Dispose() => _broker.Dispose();
}
