using System.Buffers;
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
/// The SASL state machine through the dispatcher, frames as a client sends them: only ApiVersions, SaslHandshake and
/// SaslAuthenticate are served before authentication; anything else, an unsupported mechanism, a wrong password,
/// frames out of order or too large close the connection, a failure's answer waiting for
/// connection.failed.authentication.delay.ms; success gives the connection its principal; handshake v0 switches to
/// bare tokens.
/// </summary>
public sealed class SaslAuthenticationTests : IDisposable
{
    private readonly ManualTimeProvider _time = new();
    private readonly TestBroker _broker;
    private readonly RequestDispatcher _dispatcher;
    private readonly DispatchTestClient _client;

    public SaslAuthenticationTests()
    {
        _broker = new TestBroker(BrokerConfigWith(
            "listeners=SASL_PLAINTEXT://127.0.0.1:9092",
            "listener.name.sasl_plaintext.plain.sasl.jaas.config=" + PlainJaasConfig.LoginModule + " required user_alice=\"al1ce\";",
            "connection.failed.authentication.delay.ms=250",
            "sasl.server.max.receive.size=4096"), _time);
        _broker.Core.Metadata.AlterScramCredentials([("bob", SaslMechanisms.ScramSha512, Scram.Credential(SaslMechanisms.ScramSha512, "b0b"))]);
        _dispatcher = HandlerCatalog.CreateDispatcher(_broker.Core, NullLoggerFactory.Instance);
        _client = new DispatchTestClient(_dispatcher);
    }

    [Fact]
    public async Task Plain_with_the_right_password_authenticates_and_then_every_api_is_served()
    {
        var connection = Connection();

        var versions = await SendAsync<ApiVersionsRequest, ApiVersionsResponse>(connection, ApiKey.ApiVersions, 3, new ApiVersionsRequest { ClientSoftwareName = "t", ClientSoftwareVersion = "1" });
        var handshake = await SendAsync<SaslHandshakeRequest, SaslHandshakeResponse>(connection, ApiKey.SaslHandshake, 1, new SaslHandshakeRequest { Mechanism = "PLAIN" });
        var authenticate = await SendAsync<SaslAuthenticateRequest, SaslAuthenticateResponse>(connection, ApiKey.SaslAuthenticate, 2, new SaslAuthenticateRequest { AuthBytes = Plain("alice", "al1ce") });

        Assert.Equal(0, versions.ErrorCode);
        Assert.Equal(0, handshake.ErrorCode);
        Assert.Equal(["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"], handshake.Mechanisms);
        Assert.Equal(0, authenticate.ErrorCode);
        Assert.Equal("User:alice", connection.Principal);
        var metadata = await SendAsync<MetadataRequest, MetadataResponse>(connection, ApiKey.Metadata, 12, new MetadataRequest { Topics = [] });
        Assert.Single(metadata.Brokers);
        var again = await SendAsync<SaslAuthenticateRequest, SaslAuthenticateResponse>(connection, ApiKey.SaslAuthenticate, 2, new SaslAuthenticateRequest { AuthBytes = Plain("alice", "al1ce") });
        Assert.Equal((short)ErrorCode.IllegalSaslState, again.ErrorCode);
    }

    [Fact]
    public async Task A_wrong_password_is_answered_after_the_delay_without_a_secret_then_closed()
    {
        var connection = Connection();
        await SendAsync<SaslHandshakeRequest, SaslHandshakeResponse>(connection, ApiKey.SaslHandshake, 1, new SaslHandshakeRequest { Mechanism = "PLAIN" });

        var outcome = await DispatchAsync(connection, ApiKey.SaslAuthenticate, 1, new SaslAuthenticateRequest { AuthBytes = Plain("alice", "guess-123") });

        Assert.Equal(DispatchAction.RespondAndClose, outcome.Action);
        var response = (SaslAuthenticateResponse)outcome.Response!;
        Assert.Equal((short)ErrorCode.SaslAuthenticationFailed, response.ErrorCode);
        Assert.Equal("Authentication failed: Invalid username or password", response.ErrorMessage);
        Assert.DoesNotContain("guess-123", outcome.Reason, StringComparison.Ordinal);
        Assert.False(outcome.Durable!.IsCompleted);
        _time.Advance(TimeSpan.FromMilliseconds(249));
        Assert.False(outcome.Durable.IsCompleted);
        _time.Advance(TimeSpan.FromMilliseconds(1));
        await outcome.Durable.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(ConnectionInfo.AnonymousPrincipal, connection.Principal);
    }

    [Fact]
    public async Task An_unknown_user_gets_the_same_answer_as_a_wrong_password()
    {
        var connection = Connection();
        await SendAsync<SaslHandshakeRequest, SaslHandshakeResponse>(connection, ApiKey.SaslHandshake, 1, new SaslHandshakeRequest { Mechanism = "PLAIN" });

        var outcome = await DispatchAsync(connection, ApiKey.SaslAuthenticate, 1, new SaslAuthenticateRequest { AuthBytes = Plain("mallory", "al1ce") });

        Assert.Equal("Authentication failed: Invalid username or password", ((SaslAuthenticateResponse)outcome.Response!).ErrorMessage);
        Assert.Contains("unknown PLAIN user 'mallory'", outcome.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unsupported_mechanism_gets_the_enabled_list_and_the_connection_closes()
    {
        var connection = Connection();

        var outcome = await DispatchAsync(connection, ApiKey.SaslHandshake, 1, new SaslHandshakeRequest { Mechanism = "GSSAPI" });

        Assert.Equal(DispatchAction.RespondAndClose, outcome.Action);
        var response = (SaslHandshakeResponse)outcome.Response!;
        Assert.Equal((short)ErrorCode.UnsupportedSaslMechanism, response.ErrorCode);
        Assert.Equal(["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"], response.Mechanisms);
    }

    [Theory]
    [InlineData(ApiKey.Metadata)]
    [InlineData(ApiKey.SaslAuthenticate)]
    public async Task A_request_before_the_handshake_closes_the_connection_unanswered(ApiKey key)
    {
        var connection = Connection();

        var outcome = key == ApiKey.Metadata
            ? await DispatchAsync(connection, key, 12, new MetadataRequest { Topics = [] })
            : await DispatchAsync(connection, key, 1, new SaslAuthenticateRequest { AuthBytes = Plain("alice", "al1ce") });

        Assert.Equal(DispatchAction.RespondAndClose, outcome.Action);
        Assert.Null(outcome.Response);
        Assert.Contains($"unexpected {key} request during SASL handshake", outcome.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_request_other_than_SaslAuthenticate_after_the_handshake_is_answered_illegal_state_and_closed()
    {
        var connection = Connection();
        await SendAsync<SaslHandshakeRequest, SaslHandshakeResponse>(connection, ApiKey.SaslHandshake, 1, new SaslHandshakeRequest { Mechanism = "PLAIN" });

        var outcome = await DispatchAsync(connection, ApiKey.SaslHandshake, 1, new SaslHandshakeRequest { Mechanism = "PLAIN" });

        Assert.Equal(DispatchAction.RespondAndClose, outcome.Action);
        Assert.Equal((short)ErrorCode.IllegalSaslState, ((SaslHandshakeResponse)outcome.Response!).ErrorCode);
    }

    [Fact]
    public async Task ApiVersions_twice_before_the_handshake_closes_the_connection()
    {
        var connection = Connection();
        await SendAsync<ApiVersionsRequest, ApiVersionsResponse>(connection, ApiKey.ApiVersions, 0, new ApiVersionsRequest());

        var outcome = await DispatchAsync(connection, ApiKey.ApiVersions, 0, new ApiVersionsRequest());

        Assert.Equal(DispatchAction.RespondAndClose, outcome.Action);
    }

    [Fact]
    public async Task A_frame_over_sasl_server_max_receive_size_before_authentication_closes_the_connection()
    {
        var connection = Connection();

        var outcome = await DispatchAsync(connection, ApiKey.SaslHandshake, 1, new SaslHandshakeRequest { Mechanism = new string('P', 5000) });

        Assert.Equal(DispatchAction.Close, outcome.Action);
        Assert.Contains("sasl.server.max.receive.size (4096 bytes)", outcome.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Handshake_v0_switches_to_bare_tokens_answered_without_a_header()
    {
        var connection = Connection();
        await SendAsync<SaslHandshakeRequest, SaslHandshakeResponse>(connection, ApiKey.SaslHandshake, 0, new SaslHandshakeRequest { Mechanism = "PLAIN" });

        var outcome = await _dispatcher.DispatchAsync(Plain("alice", "al1ce"), connection, CancellationToken.None);

        Assert.Equal((DispatchAction.Respond, DispatchOutcome.NoHeader), (outcome.Action, outcome.ResponseHeaderVersion));
        Assert.Empty(Written(outcome.Response!));
        Assert.Equal("User:alice", connection.Principal);
    }

    [Fact]
    public async Task A_bare_token_with_a_wrong_password_closes_the_connection_unanswered()
    {
        var connection = Connection();
        await SendAsync<SaslHandshakeRequest, SaslHandshakeResponse>(connection, ApiKey.SaslHandshake, 0, new SaslHandshakeRequest { Mechanism = "PLAIN" });

        var outcome = await _dispatcher.DispatchAsync(Plain("alice", "nope"), connection, CancellationToken.None);

        Assert.Equal(DispatchAction.RespondAndClose, outcome.Action);
        Assert.Null(outcome.Response);
    }

    [Fact]
    public async Task Scram_sha_512_with_a_stored_credential_authenticates_over_two_round_trips()
    {
        var connection = Connection();
        await SendAsync<SaslHandshakeRequest, SaslHandshakeResponse>(connection, ApiKey.SaslHandshake, 1, new SaslHandshakeRequest { Mechanism = "SCRAM-SHA-512" });
        const string clientFirstBare = "n=bob,r=abcdef";

        var first = await SendAsync<SaslAuthenticateRequest, SaslAuthenticateResponse>(connection, ApiKey.SaslAuthenticate, 2,
            new SaslAuthenticateRequest { AuthBytes = Encoding.UTF8.GetBytes("n,," + clientFirstBare) });
        var serverFirst = Encoding.UTF8.GetString(first.AuthBytes);
        var (clientFinal, _, _) = ScramTestClient.FinalMessage(SaslMechanisms.ScramSha512, "b0b", clientFirstBare, serverFirst);
        var final = await SendAsync<SaslAuthenticateRequest, SaslAuthenticateResponse>(connection, ApiKey.SaslAuthenticate, 2,
            new SaslAuthenticateRequest { AuthBytes = Encoding.UTF8.GetBytes(clientFinal) });

        Assert.Equal((0, 0), (first.ErrorCode, final.ErrorCode));
        Assert.StartsWith("v=", Encoding.UTF8.GetString(final.AuthBytes), StringComparison.Ordinal);
        Assert.Equal("User:bob", connection.Principal);
    }

    [Fact]
    public async Task On_a_plaintext_listener_the_sasl_apis_answer_illegal_state()
    {
        var connection = new ConnectionInfo("c-plain", null);

        var handshake = await SendAsync<SaslHandshakeRequest, SaslHandshakeResponse>(connection, ApiKey.SaslHandshake, 1, new SaslHandshakeRequest { Mechanism = "PLAIN" });

        Assert.Equal((short)ErrorCode.IllegalSaslState, handshake.ErrorCode);
        Assert.Equal(ConnectionInfo.AnonymousPrincipal, connection.Principal);
    }

    private ConnectionInfo Connection() =>
        new("c1", null, "SASL_PLAINTEXT") { Authenticator = _broker.Core.ListenerSecurity("SASL_PLAINTEXT").NewAuthenticator() };

    private static Config.BrokerConfig BrokerConfigWith(params string[] settings) => DispatchTestClient.BrokerConfigWith(settings);

    private static byte[] Plain(string user, string password) => Encoding.UTF8.GetBytes($"\0{user}\0{password}");

    private Task<TResponse> SendAsync<TRequest, TResponse>(ConnectionInfo connection, ApiKey key, short version, TRequest request)
        where TRequest : IKafkaMessage => _client.SendAsync<TRequest, TResponse>(connection, key, version, request);

    private ValueTask<DispatchOutcome> DispatchAsync<TRequest>(ConnectionInfo connection, ApiKey key, short version, TRequest request)
        where TRequest : IKafkaMessage => _client.DispatchAsync(connection, key, version, request);

    private static byte[] Written(IKafkaMessage message)
    {
        var buffer = new ArrayBufferWriter<byte>();
        var writer = new KafkaWriter(buffer);
        message.Write(ref writer, 0);
        return buffer.WrittenSpan.ToArray();
    }

    public void Dispose() => _broker.Dispose();
}
