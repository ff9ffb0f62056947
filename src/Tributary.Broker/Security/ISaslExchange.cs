namespace Tributary.Broker.Security;

/// <summary>The server side of one SASL mechanism's exchange on one connection: tokens in, challenges out.</summary>
public interface ISaslExchange
{
    string Mechanism { get; }

    SaslStep Evaluate(ReadOnlySpan<byte> token);
}
