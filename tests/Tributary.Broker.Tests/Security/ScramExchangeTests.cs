using System.Security.Cryptography;
using System.Text;
using Tributary.Broker.Security;

namespace Tributary.Broker.Tests.Security;

/// <summary>
/// The server side of SCRAM against RFC 7677's SCRAM-SHA-256 example byte for byte, and a client built from RFC 5802's
/// functions for SCRAM-SHA-512; a wrong nonce, proof or channel binding, an unknown user and messages out of order
/// fail with one message that names no secret.
/// </summary>
public sealed class ScramExchangeTests
{
    private const string Rfc7677ClientFirst = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
    private const string Rfc7677ServerNonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
    private const string Rfc7677ServerFirst = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
    private const string Rfc7677ClientFinal = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
    private const string Rfc7677ServerFinal = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

    private static readonly ScramCredential Pencil = Scram.Credential(SaslMechanisms.ScramSha256,
        Scram.SaltedPassword(SaslMechanisms.ScramSha256, "pencil", Convert.FromBase64String("W22ZaJ0SNY7soEsUEjb6gQ=="), 4096),
        Convert.FromBase64String("W22ZaJ0SNY7soEsUEjb6gQ=="), 4096);

    [Fact]
    public void The_rfc_7677_example_exchange_is_reproduced_exactly()
    {
        var exchange = Rfc7677Exchange();

        var first = exchange.Evaluate(Encoding.UTF8.GetBytes(Rfc7677ClientFirst));
        Assert.Equal(Rfc7677ServerFirst, Encoding.UTF8.GetString(first.Challenge));
        Assert.False(first.Complete);

        var final = exchange.Evaluate(Encoding.UTF8.GetBytes(Rfc7677ClientFinal));
        Assert.Equal(Rfc7677ServerFinal, Encoding.UTF8.GetString(final.Challenge));
        Assert.Equal("user", final.User);
    }

    [Theory]
    [InlineData("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k1,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=", "wrong nonce")]
    [InlineData("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVU=", "wrong SCRAM proof")]
    [InlineData("c=eSws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=", "channel binding")]
    [InlineData("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0", "without a proof")]
    [InlineData("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=!!", "not base64")]
    public void A_bad_client_final_message_fails_without_saying_what_was_wrong(string clientFinal, string logged)
    {
        var exchange = Rfc7677Exchange();
        exchange.Evaluate(Encoding.UTF8.GetBytes(Rfc7677ClientFirst));

        var step = exchange.Evaluate(Encoding.UTF8.GetBytes(clientFinal));

        Assert.True(step.Failed);
        Assert.Equal("Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-256", step.Error);
        Assert.Contains(logged, step.LogReason, StringComparison.Ordinal);
        Assert.Empty(step.Challenge);
    }

    [Fact]
    public void A_nonce_that_ends_with_the_servers_is_accepted_as_kafka_accepts_librdkafka_2_0s()
    {
        var exchange = new ScramExchange(SaslMechanisms.ScramSha256, _ => Pencil, "SERVER");
        exchange.Evaluate(Encoding.UTF8.GetBytes("n,,n=user,r=CLIENT"));
        var hash = Scram.HashOf(SaslMechanisms.ScramSha256);
        var salted = Scram.SaltedPassword(SaslMechanisms.ScramSha256, "pencil", Pencil.Salt, Pencil.Iterations);
        var clientKey = Scram.Hmac(hash, salted, "Client Key"u8);
        const string withoutProof = "c=biws,r=CLIENTCLIENTSERVER";
        var authMessage = Encoding.UTF8.GetBytes($"n=user,r=CLIENT,r=CLIENTSERVER,s={Convert.ToBase64String(Pencil.Salt)},i=4096,{withoutProof}");
        var proof = Scram.Xor(clientKey, Scram.Hmac(hash, Pencil.StoredKey, authMessage));

        var step = exchange.Evaluate(Encoding.UTF8.GetBytes($"{withoutProof},p={Convert.ToBase64String(proof)}"));

        Assert.Equal("user", step.User);
    }

    [Fact]
    public void An_unknown_user_fails_at_the_first_message_with_the_same_error()
    {
        var exchange = new ScramExchange(SaslMechanisms.ScramSha256, _ => null);

        var step = exchange.Evaluate(Encoding.UTF8.GetBytes("n,,n=mallory,r=abc"));

        Assert.Equal("Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-256", step.Error);
        Assert.Contains("mallory", step.LogReason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("y,,n=user,r=abc")]
    [InlineData("p=tls-unique,,n=user,r=abc")]
    [InlineData("n,,r=abc,n=user")]
    [InlineData("n,,n=user,r=")]
    [InlineData("n,,n=us=er,r=abc")]
    [InlineData("n,a=admin,n=user,r=abc")]
    [InlineData("c=biws,r=x,p=AAAA")]
    public void A_malformed_or_out_of_order_first_message_fails(string clientFirst)
    {
        var step = Rfc7677Exchange().Evaluate(Encoding.UTF8.GetBytes(clientFirst));

        Assert.True(step.Failed);
    }

    [Fact]
    public void A_message_after_the_exchange_ended_fails()
    {
        var exchange = Rfc7677Exchange();
        exchange.Evaluate(Encoding.UTF8.GetBytes(Rfc7677ClientFirst));
        exchange.Evaluate(Encoding.UTF8.GetBytes(Rfc7677ClientFinal));

        Assert.True(exchange.Evaluate(Encoding.UTF8.GetBytes(Rfc7677ClientFinal)).Failed);
    }

    [Fact]
    public void An_escaped_user_name_and_a_matching_authorization_id_are_accepted()
    {
        var exchange = new ScramExchange(SaslMechanisms.ScramSha256, user => user == "a,b=c" ? Pencil : null);

        var step = exchange.Evaluate(Encoding.UTF8.GetBytes("n,a=a=2Cb=3Dc,n=a=2Cb=3Dc,r=abc"));

        Assert.False(step.Failed, step.LogReason);
    }

    [Theory]
    [InlineData("SCRAM-SHA-256", "pencil", true)]
    [InlineData("SCRAM-SHA-512", "pencil", true)]
    [InlineData("SCRAM-SHA-512", "pencil2", false)]
    public void A_client_following_rfc_5802_authenticates_only_with_the_right_password(string mechanism, string password, bool accepted)
    {
        var credential = Scram.Credential(mechanism, "pencil");
        var exchange = new ScramExchange(mechanism, user => user == "bob" ? credential : null);
        const string clientFirstBare = "n=bob,r=fyko+d2lbbFgONRv9qkxdawL";

        var serverFirst = Encoding.UTF8.GetString(exchange.Evaluate(Encoding.UTF8.GetBytes("n,," + clientFirstBare)).Challenge);
        var (clientFinal, salted, authMessage) = ScramTestClient.FinalMessage(mechanism, password, clientFirstBare, serverFirst);

        var final = exchange.Evaluate(Encoding.UTF8.GetBytes(clientFinal));

        Assert.Equal(accepted, final.Complete);
        if (accepted)
        {
            var hash = Scram.HashOf(mechanism);
            var serverSignature = Scram.Hmac(hash, Scram.Hmac(hash, salted, "Server Key"u8), authMessage);
            Assert.True(CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes("v=" + Convert.ToBase64String(serverSignature)), final.Challenge));
        }
    }

    private static ScramExchange Rfc7677Exchange() =>
        new(SaslMechanisms.ScramSha256, user => user == "user" ? Pencil : null, Rfc7677ServerNonce);
}
