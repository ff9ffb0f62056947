using Tributary.Broker.Security;

namespace Tributary.Broker.Config;

/// <summary>
/// How a cluster-mode broker connects to its peers, from Kafka's keys: the listener is
/// <c>inter.broker.listener.name</c>, else the one named as <c>security.inter.broker.protocol</c> (PLAINTEXT by
/// default), and must be one of <c>listeners</c>; on a SASL listener the broker logs in with
/// <c>sasl.mechanism.inter.broker.protocol</c>, which the listener must enable, as the username and password of that
/// listener's <c>listener.name.&lt;l&gt;.&lt;mechanism&gt;.sasl.jaas.config</c>; on a TLS listener it trusts the
/// listener's truststore and presents the listener's keystore when asked.
/// </summary>
public static class InterBrokerConfig
{
    /// <summary>The broker's own login (username, password) on <paramref name="listener"/> with <paramref name="mechanism"/>; or the error, which never quotes a value.</summary>
    public static (string? Username, string? Password, string? Error) LoginFor(BrokerConfig config, string listener, string mechanism)
    {
        var key = Listeners.PerListenerKey(listener, mechanism.ToLowerInvariant() + ".sasl.jaas.config");
        if (config.JaasConfigFor(listener, mechanism) is not { } jaas)
        {
            return (null, null, $"inter-broker {mechanism} on listener {listener} needs the broker's login in {key} (username=\"…\" password=\"…\")");
        }

        var module = mechanism == SaslMechanisms.Plain ? PlainJaasConfig.LoginModule : JaasConfig.ScramLoginModule;
        var (options, error) = JaasConfig.Parse(jaas, module);
        if (error is not null)
        {
            return (null, null, $"{key}: {error}");
        }

        return options.GetValueOrDefault("username") is { } username && options.GetValueOrDefault("password") is { } password
            ? (username, password, null)
            : (null, null, $"{key} needs username=\"…\" and password=\"…\": the broker's own login for inter-broker connections");
    }

    /// <summary>The checks of a cluster-mode configuration: start-up fails with these, as Kafka's does.</summary>
    public static List<string> Validate(BrokerConfig config)
    {
        var errors = new List<string>();
        if (config.InterBrokerListenerName is not null && config.Explicit.ContainsKey("security.inter.broker.protocol"))
        {
            errors.Add("inter.broker.listener.name and security.inter.broker.protocol exclude each other: set only one");
            return errors;
        }

        var listener = config.InterBrokerListener;
        var source = config.InterBrokerListenerName is not null ? "inter.broker.listener.name" : "security.inter.broker.protocol";
        if (config.Listeners.All(l => l.Name != listener))
        {
            errors.Add($"{source}: the inter-broker listener {listener} is not one of the listeners ({string.Join(", ", config.Listeners.Select(l => l.Name))})");
            return errors;
        }

        var protocol = config.SecurityProtocolOf(listener);
        if (protocol is not (ListenerSecurity.SaslPlaintext or ListenerSecurity.SaslSsl))
        {
            return errors;
        }

        var mechanism = config.SaslMechanismInterBrokerProtocol;
        if (!config.SaslMechanismsFor(listener).Contains(mechanism))
        {
            errors.Add($"sasl.mechanism.inter.broker.protocol {mechanism} is not enabled on the inter-broker listener {listener} ({string.Join(", ", config.SaslMechanismsFor(listener))})");
            return errors;
        }

        if (LoginFor(config, listener, mechanism).Error is { } loginError)
        {
            errors.Add(loginError);
        }

        return errors;
    }
}
