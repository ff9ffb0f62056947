namespace Tributary.Broker.Security;

/// <summary>
/// A listener's <c>plain.sasl.jaas.config</c>:
/// <c>org.apache.kafka.common.security.plain.PlainLoginModule required user_alice="secret" user_bob="other";</c>.
/// Each <c>user_NAME="password"</c> option is a user PLAIN accepts (as Kafka's PlainServerCallbackHandler reads
/// them); username/password are the broker's own login on inter-broker connections to this listener.
/// </summary>
public static class PlainJaasConfig
{
    public const string LoginModule = "org.apache.kafka.common.security.plain.PlainLoginModule";

    /// <summary>The users and passwords; or the error, which never quotes a value (they are passwords).</summary>
    public static (IReadOnlyDictionary<string, string> Users, string? Error) Parse(string value)
    {
        var (options, error) = JaasConfig.Parse(value, LoginModule);
        var users = options
            .Where(o => o.Key.StartsWith("user_", StringComparison.Ordinal) && o.Key.Length > "user_".Length)
            .ToDictionary(o => o.Key["user_".Length..], o => o.Value, StringComparer.Ordinal);
        return (users, error);
    }
}
