using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Tributary.Broker.Config;
using Tributary.Broker.Dispatch;
using Tributary.Broker.Handlers;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using Tributary.TestSupport;

namespace Tributary.Broker.Tests.Security;

/// <summary>
/// OAUTHBEARER with Kafka's OAuthBearerValidatorCallbackHandler (KIP-768) on a listener: JWTs signed by a key of
/// the JWKS file the test writes are accepted (RS256, ES256) with the sub claim as principal; expired, wrongly
/// signed, HMAC-signed with the public key (alg confusion), unsigned, wrong audience or issuer, or missing iat are
/// refused with invalid_token. Misconfigured listeners are refused at startup.
/// </summary>
public sealed class SignedJwtTests : IDisposable
{
    private const string Handler = "org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler";

    private readonly ManualTimeProvider _time = new();
    private readonly TestJwt _keys = new();
    private readonly string _directory = Directory.CreateTempSubdirectory("tributary-jwks-").FullName;
    private readonly string _jwksUrl;
    private readonly TestBroker _broker;
    private readonly DispatchTestClient _client;

    public SignedJwtTests()
    {
        _jwksUrl = _keys.WriteJwks(Path.Combine(_directory, "jwks.json"));
        _broker = new TestBroker(DispatchTestClient.BrokerConfigWith(Settings(
            "sasl.oauthbearer.expected.audience=kafka,other",
            "sasl.oauthbearer.expected.issuer=https://issuer.test",
            "sasl.oauthbearer.clock.skew.seconds=10")), _time);
        _client = new DispatchTestClient(HandlerCatalog.CreateDispatcher(_broker.Core, NullLoggerFactory.Instance));
    }

    private long Now => TestJwt.Seconds(_time.GetUtcNow());

    private object Claims(string aud = "kafka", string iss = "https://issuer.test", long? exp = null, bool iat = true) => iat
        ? new { sub = "alice", aud, iss, iat = Now, exp = exp ?? Now + 300 }
        : new { sub = "alice", aud, iss, exp = exp ?? Now + 300 };

    [Fact]
    public async Task Rs256_and_es256_tokens_signed_by_a_key_of_the_jwks_authenticate_as_sub()
    {
        var (rsa, rsaPrincipal) = await AuthenticateAsync(_keys.Rs256(Claims()));
        var (ec, ecPrincipal) = await AuthenticateAsync(_keys.Es256(Claims(aud: "other")));

        Assert.Equal((0, "User:alice", 300_000L), (rsa.ErrorCode, rsaPrincipal, rsa.SessionLifetimeMs));
        Assert.Equal((0, "User:alice"), (ec.ErrorCode, ecPrincipal));
        Assert.Empty(rsa.AuthBytes);
    }

    [Theory]
    [InlineData("expired")]
    [InlineData("signed by another key")]
    [InlineData("HS256 keyed with the RSA public key")]
    [InlineData("alg none")]
    [InlineData("wrong audience")]
    [InlineData("wrong issuer")]
    [InlineData("no iat")]
    [InlineData("unknown kid")]
    public async Task A_bad_token_is_answered_invalid_token_and_never_authenticates(string problem)
    {
        var token = problem switch
        {
            "expired" => _keys.Rs256(Claims(exp: Now - 11)),
            "signed by another key" => TestJwt.Rs256WithForeignKey(Claims()),
            "HS256 keyed with the RSA public key" => TestJwt.Hs256(Claims(), _keys.RsaPublicKeyBytes()),
            "alg none" => TestJwt.Unsecured(Claims()),
            "wrong audience" => _keys.Rs256(Claims(aud: "elsewhere")),
            "wrong issuer" => _keys.Rs256(Claims(iss: "https://evil.test")),
            "no iat" => _keys.Rs256(Claims(iat: false)),
            _ => _keys.Rs256(Claims(), kid: "rotated-away"),
        };

        var (response, principal) = await AuthenticateAsync(token);

        Assert.Equal(0, response.ErrorCode);
        Assert.Equal("{\"status\":\"invalid_token\"}", Encoding.UTF8.GetString(response.AuthBytes));
        Assert.Equal(ConnectionInfo.AnonymousPrincipal, principal);
    }

    [Fact]
    public async Task A_token_within_the_clock_skew_of_its_exp_is_accepted()
    {
        var (response, principal) = await AuthenticateAsync(_keys.Rs256(Claims(exp: Now - 9)));

        Assert.Equal((0, "User:alice"), (response.ErrorCode, principal));
        Assert.Empty(response.AuthBytes);
    }

    [Fact]
    public void The_principal_comes_from_sasl_oauthbearer_sub_claim_name()
    {
        using var broker = new TestBroker(DispatchTestClient.BrokerConfigWith(Settings("sasl.oauthbearer.sub.claim.name=client_id")), _time);
        var validator = broker.Core.ListenerSecurity("SASL_PLAINTEXT").OAuthBearer!;

        var validation = validator.Validate(_keys.Rs256(new { sub = "ignored", client_id = "svc-orders", iat = Now, exp = Now + 60 }));

        Assert.Equal("svc-orders", validation.Principal);
    }

    [Theory]
    [InlineData("no jwks url")]
    [InlineData("missing jwks file")]
    [InlineData("http jwks url")]
    [InlineData("no jaas config")]
    [InlineData("bad clock skew option")]
    public void A_listener_that_cannot_validate_oauthbearer_tokens_is_refused(string problem)
    {
        string[] settings = problem switch
        {
            "no jwks url" => ["listeners=SASL_PLAINTEXT://127.0.0.1:9092", "sasl.enabled.mechanisms=OAUTHBEARER", Jaas(), "listener.name.sasl_plaintext.oauthbearer.sasl.server.callback.handler.class=" + Handler],
            "missing jwks file" => Settings("sasl.oauthbearer.jwks.endpoint.url=" + new Uri(Path.Combine(_directory, "absent.json")).AbsoluteUri),
            "http jwks url" => Settings("sasl.oauthbearer.jwks.endpoint.url=https://idp.example/jwks"),
            "no jaas config" => ["listeners=SASL_PLAINTEXT://127.0.0.1:9092", "sasl.enabled.mechanisms=OAUTHBEARER"],
            _ => ["listeners=SASL_PLAINTEXT://127.0.0.1:9092", "sasl.enabled.mechanisms=OAUTHBEARER",
                "listener.name.sasl_plaintext.oauthbearer.sasl.jaas.config=" + OAuthBearerConfig.LoginModule + " required unsecuredValidatorAllowableClockSkewMs=\"-5\";"],
        };

        var (config, errors) = BrokerConfig.Parse(settings.Select(s => s.Split('=', 2)).Select(p => KeyValuePair.Create(p[0], p[1])));

        Assert.Null(config);
        Assert.Contains(errors, e => e.Contains("oauthbearer", StringComparison.OrdinalIgnoreCase));
    }

    private string[] Settings(params string[] extra) =>
    [
        "listeners=SASL_PLAINTEXT://127.0.0.1:9092",
        "sasl.enabled.mechanisms=OAUTHBEARER,PLAIN",
        "listener.name.sasl_plaintext.plain.sasl.jaas.config=" + Tributary.Broker.Security.PlainJaasConfig.LoginModule + " required user_alice=\"a\";",
        Jaas(),
        "listener.name.sasl_plaintext.oauthbearer.sasl.server.callback.handler.class=" + Handler,
        "sasl.oauthbearer.jwks.endpoint.url=" + _jwksUrl,
        .. extra,
    ];

    private static string Jaas() => "listener.name.sasl_plaintext.oauthbearer.sasl.jaas.config=" + OAuthBearerConfig.LoginModule + " required;";

    private async Task<(SaslAuthenticateResponse Response, string Principal)> AuthenticateAsync(string token)
    {
        var connection = new ConnectionInfo("c1", null, "SASL_PLAINTEXT") { Authenticator = _broker.Core.ListenerSecurity("SASL_PLAINTEXT").NewAuthenticator() };
        await _client.SendAsync<SaslHandshakeRequest, SaslHandshakeResponse>(connection, ApiKey.SaslHandshake, 1, new SaslHandshakeRequest { Mechanism = "OAUTHBEARER" });
        var response = await _client.SendAsync<SaslAuthenticateRequest, SaslAuthenticateResponse>(connection, ApiKey.SaslAuthenticate, 2,
            new SaslAuthenticateRequest { AuthBytes = OAuthBearerTests.ClientFirst(token) });
        return (response, connection.Principal);
    }

    public void Dispose()
    {
        _broker.Dispose();
        _keys.Dispose();
        Directory.Delete(_directory, recursive: true);
    }
}
