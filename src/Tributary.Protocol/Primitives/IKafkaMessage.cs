namespace Tributary.Protocol;

/// <summary>A message of Kafka's protocol (request, response, header or data schema) that writes itself at a version.</summary>
public interface IKafkaMessage
{
    void Write(ref KafkaWriter writer, short version);
}
