using Tributary.Interop.Tests.Support;
using Tributary.Server;
using Tributary.TestSupport;

namespace Tributary.Interop.Tests;

/// <summary>
/// kafkajs against a SASL_PLAINTEXT listener: PLAIN, SCRAM-SHA-256 and OAUTHBEARER (an RS256 token the test signs,
/// checked against the JWKS file it writes) log in, produce and consume in a group; a wrong password is refused with
/// SASL_AUTHENTICATION_FAILED.
/// </summary>
public sealed class KafkaJsSaslTests
{
    private static readonly TimeSpan NodeTimeout = TimeSpan.FromSeconds(90);

    [Theory]
    [InlineData("plain")]
    [InlineData("scram-sha-256")]
    public async Task KafkaJsAuthenticatesProducesAndConsumes(string mechanism)
    {
        await using var broker = await StartAsync();

        var run = await NodeRunner.RunAsync("sasl.mjs", NodeTimeout, broker.BootstrapServers, mechanism, "alice", "al1ce-secret", "secured");

        using var json = NodeRunner.LastJsonLine(run);
        Assert.True(run.ExitCode == 0 && !json.RootElement.TryGetProperty("error", out _), "kafkajs failed: " + run.Describe());
        Assert.Equal([$"{mechanism}-1", $"{mechanism}-2", $"{mechanism}-3"], json.RootElement.GetProperty("values").EnumerateArray().Select(v => v.GetString()));
    }

    [Theory]
    [InlineData("plain")]
    [InlineData("scram-sha-256")]
    public async Task AWrongPasswordIsRefused(string mechanism)
    {
        await using var broker = await StartAsync();

        var run = await NodeRunner.RunAsync("sasl.mjs", NodeTimeout, broker.BootstrapServers, mechanism, "alice", "wrong", "secured");

        using var json = NodeRunner.LastJsonLine(run);
        Assert.Equal(1, run.ExitCode);
        Assert.Contains("SASL", json.RootElement.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Contains("Authentication failed", json.RootElement.GetProperty("error").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task KafkaJsAuthenticatesWithASignedOAuthBearerToken()
    {
        using var keys = new TestJwt();
        var work = Directory.CreateTempSubdirectory("tributary-kafkajs-oauth-").FullName;
        try
        {
            var options = new TributaryBrokerOptions { Topics = { ["secured"] = 1 } };
            options.Config["listeners"] = "SASL_PLAINTEXT://127.0.0.1:0";
            options.Config["sasl.enabled.mechanisms"] = "OAUTHBEARER";
            options.Config["listener.name.sasl_plaintext.oauthbearer.sasl.jaas.config"] = "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;";
            options.Config["listener.name.sasl_plaintext.oauthbearer.sasl.server.callback.handler.class"] = "org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler";
            options.Config["sasl.oauthbearer.jwks.endpoint.url"] = keys.WriteJwks(Path.Combine(work, "jwks.json"));
            await using var broker = await TributaryBroker.StartAsync(options);
            var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
            var token = keys.Es256(new { sub = "js-app", iat = now, exp = now + 300 });

            var run = await NodeRunner.RunAsync("sasl.mjs", NodeTimeout, broker.BootstrapServers, "oauthbearer", "-", token, "secured");

            using var json = NodeRunner.LastJsonLine(run);
            Assert.True(run.ExitCode == 0 && !json.RootElement.TryGetProperty("error", out _), "kafkajs failed: " + run.Describe());
            Assert.Equal(["oauthbearer-1", "oauthbearer-2", "oauthbearer-3"], json.RootElement.GetProperty("values").EnumerateArray().Select(v => v.GetString()));
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    private static async Task<TributaryBroker> StartAsync()
    {
        var options = new TributaryBrokerOptions();
        options.SaslUsers["alice"] = "al1ce-secret";
        options.Topics["secured"] = 1;
        return await TributaryBroker.StartAsync(options);
    }
}
