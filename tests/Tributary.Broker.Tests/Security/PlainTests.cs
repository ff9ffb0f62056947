using System.Text;
using Tributary.Broker.Config;
using Tributary.Broker.Security;

namespace Tributary.Broker.Tests.Security;

/// <summary>
/// PLAIN's token and Kafka's JAAS syntax for its users: malformed tokens and configs are refused with messages that
/// quote no password.
/// </summary>
public sealed class PlainTests
{
    private static readonly Dictionary<string, string> Users = new() { ["alice"] = "al1ce", ["bob"] = "b\"0b" };

    [Theory]
    [InlineData("\0alice\0al1ce", "alice")]
    [InlineData("alice\0alice\0al1ce", "alice")]
    [InlineData("\0bob\0b\"0b", "bob")]
    public void A_token_with_a_users_password_authenticates_that_user(string token, string user)
    {
        Assert.Equal(user, new PlainExchange(Users).Evaluate(Encoding.UTF8.GetBytes(token)).User);
    }

    [Theory]
    [InlineData("\0alice\0wrong", "Authentication failed: Invalid username or password")]
    [InlineData("\0nobody\0al1ce", "Authentication failed: Invalid username or password")]
    [InlineData("bob\0alice\0al1ce", "Authentication failed: Client requested an authorization id that is different from username")]
    [InlineData("\0\0al1ce", "Authentication failed: username not specified")]
    [InlineData("\0alice\0", "Authentication failed: password not specified")]
    [InlineData("alice\0al1ce", "Invalid SASL/PLAIN response: expected 3 tokens, got 2")]
    public void A_bad_token_fails_with_kafkas_message(string token, string error)
    {
        var step = new PlainExchange(Users).Evaluate(Encoding.UTF8.GetBytes(token));

        Assert.Equal(error, step.Error);
        Assert.DoesNotContain("al1ce", step.LogReason, StringComparison.Ordinal);
    }

    [Fact]
    public void The_jaas_config_gives_each_user_option_as_a_user()
    {
        var (users, error) = PlainJaasConfig.Parse(
            "org.apache.kafka.common.security.plain.PlainLoginModule required\n username=\"admin\" password=\"admin-secret\"\n user_admin=\"admin-secret\" user_alice=\"a \\\"quoted\\\" one\" user_bob=plain;");

        Assert.Null(error);
        Assert.Equal(new Dictionary<string, string> { ["admin"] = "admin-secret", ["alice"] = "a \"quoted\" one", ["bob"] = "plain" }, users);
    }

    [Theory]
    [InlineData("org.apache.kafka.common.security.scram.ScramLoginModule required;")]
    [InlineData("org.apache.kafka.common.security.plain.PlainLoginModule mandatory;")]
    [InlineData("org.apache.kafka.common.security.plain.PlainLoginModule required user_alice=\"s3cr3t\"")]
    [InlineData("org.apache.kafka.common.security.plain.PlainLoginModule required user_alice=\"s3cr3t;")]
    public void A_malformed_jaas_config_is_an_error_that_quotes_no_value(string value)
    {
        var error = PlainJaasConfig.Parse(value).Error;

        Assert.NotNull(error);
        Assert.DoesNotContain("s3cr3t", error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_listeners_jaas_config_is_a_sensitive_key_and_bad_ones_are_refused_at_start()
    {
        var definition = ConfigTable.Find(ConfigScope.Broker, "listener.name.sasl_plaintext.plain.sasl.jaas.config");
        Assert.True(definition!.Sensitive);

        var (config, errors) = BrokerConfig.Parse([KeyValuePair.Create("listener.name.sasl_plaintext.plain.sasl.jaas.config", "nonsense user_a=\"s3cr3t\";")]);

        Assert.Null(config);
        Assert.DoesNotContain("s3cr3t", Assert.Single(errors), StringComparison.Ordinal);
    }
}
