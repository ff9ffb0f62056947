using Tributary.Protocol;

namespace Tributary.Broker.Security;

/// <summary>A SASL challenge sent as it is (after SaslHandshake v0), with no Kafka response around it.</summary>
public sealed class RawSaslToken(byte[] token) : IKafkaMessage
{
    public void Write(ref KafkaWriter writer, short version) => writer.WriteRawBytes(token);
}
