namespace Tributary.Protocol;

/// <summary>Static side of a generated message: how to read it and which versions its schema defines.</summary>
public interface IKafkaMessage<TSelf> : IKafkaMessage
    where TSelf : IKafkaMessage<TSelf>
{
    static abstract short LowestSupportedVersion { get; }

    static abstract short HighestSupportedVersion { get; }

    static abstract short FirstFlexibleVersion { get; }

    static abstract TSelf Read(ref KafkaReader reader, short version);
}
