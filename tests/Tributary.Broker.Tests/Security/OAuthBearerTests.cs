using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Tributary.Broker.Dispatch;
using Tributary.Broker.Handlers;
using Tributary.Broker.Security;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using Tributary.TestSupport;

namespace Tributary.Broker.Tests.Security;

/// <summary>
/// SASL/OAUTHBEARER through the dispatcher with the unsecured validator (alg none) a listener gets from its JAAS
/// options: a valid token authenticates as its principal claim; an invalid one is answered with Kafka's JSON error
/// as a challenge, and the client's ^A acknowledgement fails the authentication with that JSON, then closes; a
/// malformed first message, an authorization id other than the principal, or a token over
/// sasl.server.max.receive.size fail too. No token reaches the failure reason.
/// </summary>
public sealed class OAuthBearerTests : IDisposable
{
    private readonly ManualTimeProvider _time = new();
    private readonly TestBroker _broker;
    private readonly DispatchTestClient _client;

    public OAuthBearerTests()
    {
        _broker = new TestBroker(DispatchTestClient.BrokerConfigWith(
            "listeners=SASL_PLAINTEXT://127.0.0.1:9092",
            "sasl.enabled.mechanisms=OAUTHBEARER",
            "listener.name.sasl_plaintext.oauthbearer.sasl.jaas.config=" + Config.OAuthBearerConfig.LoginModule
                + " required unsecuredValidatorPrincipalClaimName=\"user\" unsecuredValidatorRequiredScope=\"produce\" unsecuredValidatorAllowableClockSkewMs=\"5000\";",
            "connection.failed.authentication.delay.ms=0",
            "sasl.server.max.receive.size=2048"), _time);
        _client = new DispatchTestClient(HandlerCatalog.CreateDispatcher(_broker.Core, NullLoggerFactory.Instance));
    }

    private long Now => TestJwt.Seconds(_time.GetUtcNow());

    [Fact]
    public async Task A_valid_unsecured_token_authenticates_as_its_principal_claim_for_the_tokens_lifetime()
    {
        var connection = await HandshakeAsync();
        var token = TestJwt.Unsecured(new { user = "alice", scope = new[] { "produce", "other" }, iat = Now, exp = Now + 600 });

        var response = await _client.SendAsync<SaslAuthenticateRequest, SaslAuthenticateResponse>(connection, ApiKey.SaslAuthenticate, 2,
            new SaslAuthenticateRequest { AuthBytes = ClientFirst(token) });

        Assert.Equal(0, response.ErrorCode);
        Assert.Empty(response.AuthBytes);
        Assert.Equal("User:alice", connection.Principal);
        Assert.Equal(600_000, response.SessionLifetimeMs);
    }

    [Fact]
    public async Task An_expired_token_is_answered_with_the_json_error_then_fails_on_the_acknowledgement()
    {
        var connection = await HandshakeAsync();
        var token = TestJwt.Unsecured(new { user = "alice", scope = "produce", exp = Now - 6 });

        var challenge = await _client.SendAsync<SaslAuthenticateRequest, SaslAuthenticateResponse>(connection, ApiKey.SaslAuthenticate, 2,
            new SaslAuthenticateRequest { AuthBytes = ClientFirst(token) });
        var outcome = await _client.DispatchAsync(connection, ApiKey.SaslAuthenticate, 2, new SaslAuthenticateRequest { AuthBytes = [0x01] });

        Assert.Equal(0, challenge.ErrorCode);
        Assert.Equal("{\"status\":\"invalid_token\"}", Encoding.UTF8.GetString(challenge.AuthBytes));
        Assert.Equal(DispatchAction.RespondAndClose, outcome.Action);
        var failed = (SaslAuthenticateResponse)outcome.Response!;
        Assert.Equal((short)ErrorCode.SaslAuthenticationFailed, failed.ErrorCode);
        Assert.Equal("{\"status\":\"invalid_token\"}", failed.ErrorMessage);
        Assert.Contains("expired", outcome.Reason, StringComparison.Ordinal);
        Assert.DoesNotContain(token, outcome.Reason, StringComparison.Ordinal);
        Assert.Equal(ConnectionInfo.AnonymousPrincipal, connection.Principal);
    }

    [Fact]
    public async Task A_token_within_the_allowable_clock_skew_of_its_exp_is_still_valid()
    {
        var connection = await HandshakeAsync();

        var response = await _client.SendAsync<SaslAuthenticateRequest, SaslAuthenticateResponse>(connection, ApiKey.SaslAuthenticate, 2,
            new SaslAuthenticateRequest { AuthBytes = ClientFirst(TestJwt.Unsecured(new { user = "alice", scope = "produce", exp = Now - 4 })) });

        Assert.Equal(0, response.ErrorCode);
        Assert.Empty(response.AuthBytes);
        Assert.Equal(0, response.SessionLifetimeMs);
    }

    [Fact]
    public async Task A_token_without_the_required_scope_gets_insufficient_scope_naming_it()
    {
        var connection = await HandshakeAsync();

        var challenge = await _client.SendAsync<SaslAuthenticateRequest, SaslAuthenticateResponse>(connection, ApiKey.SaslAuthenticate, 2,
            new SaslAuthenticateRequest { AuthBytes = ClientFirst(TestJwt.Unsecured(new { user = "alice", scope = "consume", exp = Now + 60 })) });

        Assert.Equal("{\"status\":\"insufficient_scope\", \"scope\":\"[produce]\"}", Encoding.UTF8.GetString(challenge.AuthBytes));
        Assert.Equal(ConnectionInfo.AnonymousPrincipal, connection.Principal);
    }

    [Theory]
    [InlineData("issued in the future")]
    [InlineData("no principal claim")]
    [InlineData("no exp")]
    [InlineData("signed")]
    [InlineData("exp before iat")]
    public async Task An_invalid_unsecured_token_gets_invalid_token(string problem)
    {
        var connection = await HandshakeAsync();
        using var keys = new TestJwt();
        var token = problem switch
        {
            "issued in the future" => TestJwt.Unsecured(new { user = "alice", scope = "produce", iat = Now + 10, exp = Now + 60 }),
            "no principal claim" => TestJwt.Unsecured(new { sub = "alice", scope = "produce", exp = Now + 60 }),
            "no exp" => TestJwt.Unsecured(new { user = "alice", scope = "produce" }),
            "signed" => keys.Rs256(new { user = "alice", scope = "produce", exp = Now + 60 }),
            _ => TestJwt.Unsecured(new { user = "alice", scope = "produce", iat = Now, exp = Now }),
        };

        var challenge = await _client.SendAsync<SaslAuthenticateRequest, SaslAuthenticateResponse>(connection, ApiKey.SaslAuthenticate, 2,
            new SaslAuthenticateRequest { AuthBytes = ClientFirst(token) });

        Assert.Equal("{\"status\":\"invalid_token\"}", Encoding.UTF8.GetString(challenge.AuthBytes));
    }

    [Theory]
    [InlineData("not a client first message")]
    [InlineData("n,,\u0001auth=Basic abc\u0001\u0001")]
    [InlineData("n,,\u0001host=example\u0001\u0001")]
    [InlineData("y,,\u0001auth=Bearer a.b.\u0001\u0001")]
    public async Task A_malformed_client_first_message_fails_with_the_generic_message(string message)
    {
        var connection = await HandshakeAsync();

        var outcome = await _client.DispatchAsync(connection, ApiKey.SaslAuthenticate, 2, new SaslAuthenticateRequest { AuthBytes = Encoding.UTF8.GetBytes(message) });

        Assert.Equal(DispatchAction.RespondAndClose, outcome.Action);
        Assert.Equal("Authentication failed during authentication due to invalid credentials with SASL mechanism OAUTHBEARER",
            ((SaslAuthenticateResponse)outcome.Response!).ErrorMessage);
    }

    [Fact]
    public async Task Extensions_are_accepted_and_an_authorization_id_must_be_the_principal()
    {
        var token = TestJwt.Unsecured(new { user = "alice", scope = "produce", exp = Now + 60 });
        var accepted = await HandshakeAsync();
        var mismatched = await HandshakeAsync();

        var ok = await _client.SendAsync<SaslAuthenticateRequest, SaslAuthenticateResponse>(accepted, ApiKey.SaslAuthenticate, 2,
            new SaslAuthenticateRequest { AuthBytes = Encoding.UTF8.GetBytes($"n,a=alice,\u0001auth=Bearer {token}\u0001traceId=abc 123\u0001\u0001") });
        var outcome = await _client.DispatchAsync(mismatched, ApiKey.SaslAuthenticate, 2,
            new SaslAuthenticateRequest { AuthBytes = Encoding.UTF8.GetBytes($"n,a=admin,\u0001auth=Bearer {token}\u0001\u0001") });

        Assert.Equal("User:alice", accepted.Principal);
        Assert.Equal(0, ok.ErrorCode);
        Assert.Equal(DispatchAction.RespondAndClose, outcome.Action);
        Assert.Equal("Authentication failed: Client requested an authorization id (admin) that is different from the token's principal name (alice)",
            ((SaslAuthenticateResponse)outcome.Response!).ErrorMessage);
    }

    [Fact]
    public async Task A_token_over_sasl_server_max_receive_size_closes_the_connection_unanswered()
    {
        var connection = await HandshakeAsync();
        var token = TestJwt.Unsecured(new { user = "alice", scope = "produce", exp = Now + 60, padding = new string('x', 4000) });

        var outcome = await _client.DispatchAsync(connection, ApiKey.SaslAuthenticate, 2, new SaslAuthenticateRequest { AuthBytes = ClientFirst(token) });

        Assert.Equal(DispatchAction.Close, outcome.Action);
        Assert.Contains("sasl.server.max.receive.size", outcome.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Anything_but_the_acknowledgement_after_an_error_challenge_fails()
    {
        var connection = await HandshakeAsync();
        var expired = TestJwt.Unsecured(new { user = "alice", scope = "produce", exp = Now - 60 });
        await _client.SendAsync<SaslAuthenticateRequest, SaslAuthenticateResponse>(connection, ApiKey.SaslAuthenticate, 2, new SaslAuthenticateRequest { AuthBytes = ClientFirst(expired) });

        var retry = await _client.DispatchAsync(connection, ApiKey.SaslAuthenticate, 2,
            new SaslAuthenticateRequest { AuthBytes = ClientFirst(TestJwt.Unsecured(new { user = "alice", scope = "produce", exp = Now + 60 })) });

        Assert.Equal(DispatchAction.RespondAndClose, retry.Action);
        Assert.Equal(ConnectionInfo.AnonymousPrincipal, connection.Principal);
    }

    internal static byte[] ClientFirst(string token) => Encoding.UTF8.GetBytes($"n,,\u0001auth=Bearer {token}\u0001\u0001");

    private async Task<ConnectionInfo> HandshakeAsync()
    {
        var connection = new ConnectionInfo("c1", null, "SASL_PLAINTEXT") { Authenticator = _broker.Core.ListenerSecurity("SASL_PLAINTEXT").NewAuthenticator() };
        var handshake = await _client.SendAsync<SaslHandshakeRequest, SaslHandshakeResponse>(connection, ApiKey.SaslHandshake, 1, new SaslHandshakeRequest { Mechanism = "OAUTHBEARER" });
        Assert.Equal(0, handshake.ErrorCode);
        return connection;
    }

    public void Dispose() => _broker.Dispose();
}
