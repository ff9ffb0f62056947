using Tributary.Broker.Security;

namespace Tributary.Broker.Config;

/// <summary>
/// How a listener's OAUTHBEARER validator comes from Kafka's keys: <c>listener.name.&lt;l&gt;.oauthbearer.sasl.jaas.config</c>
/// must be set (Kafka needs a JAAS entry for every enabled mechanism); without
/// <c>listener.name.&lt;l&gt;.oauthbearer.sasl.server.callback.handler.class</c> tokens are unsecured JWSs, as Kafka's
/// default handler takes them; with Kafka's OAuthBearerValidatorCallbackHandler they are JWTs signed by a key of
/// sasl.oauthbearer.jwks.endpoint.url.
/// </summary>
public static class OAuthBearerConfig
{
    public const string LoginModule = "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule";

    /// <summary>The check of one listener's oauthbearer.sasl.jaas.config value; never quotes it.</summary>
    public static string? CheckJaas(string value)
    {
        var (options, error) = JaasConfig.Parse(value, LoginModule);
        error ??= UnsecuredJwsValidator.FromJaasOptions(options, TimeProvider.System).Error;
        return error is null ? null : "a listener's oauthbearer.sasl.jaas.config: " + error;
    }

    /// <summary>The validator of a listener on which OAUTHBEARER is enabled; or why there can be none. Reads the JWKS file.</summary>
    public static (IOAuthBearerValidator? Validator, string? Error) ValidatorFor(BrokerConfig config, string listener, TimeProvider time)
    {
        var jaasKey = Listeners.PerListenerKey(listener, "oauthbearer.sasl.jaas.config");
        if (config.Explicit.GetValueOrDefault(jaasKey) is not { } jaas)
        {
            return (null, $"OAUTHBEARER is enabled on listener {listener}, which needs {jaasKey}");
        }

        var (options, error) = JaasConfig.Parse(jaas, LoginModule);
        if (error is not null)
        {
            return (null, $"{jaasKey}: {error}");
        }

        var handler = config.Explicit.GetValueOrDefault(Listeners.PerListenerKey(listener, "oauthbearer.sasl.server.callback.handler.class"));
        if (handler is null or UnsecuredJwsValidator.HandlerClass)
        {
            var (unsecured, optionsError) = UnsecuredJwsValidator.FromJaasOptions(options, time);
            return (unsecured, optionsError is null ? null : $"{jaasKey}: {optionsError}");
        }

        if (config.OAuthBearer.JwksEndpointUrl is not { } url)
        {
            return (null, $"listener {listener} validates signed OAUTHBEARER tokens ({handler}), which needs sasl.oauthbearer.jwks.endpoint.url");
        }

        var (keys, keysError) = JsonWebKeySet.Load(url);
        return keys is null ? (null, keysError) : (new SignedJwtValidator(keys, config.OAuthBearer, time), null);
    }

    /// <summary>The cross-key check: every SASL listener that enables OAUTHBEARER can build its validator.</summary>
    public static List<string> Validate(BrokerConfig config) =>
    [
        .. config.Listeners
            .Where(l => config.SecurityProtocolOf(l.Name) == ListenerSecurity.SaslPlaintext && config.SaslMechanismsFor(l.Name).Contains(SaslMechanisms.OAuthBearer))
            .Select(l => ValidatorFor(config, l.Name, TimeProvider.System).Error)
            .OfType<string>(),
    ];
}
