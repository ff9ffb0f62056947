using System.Runtime.CompilerServices;

// The broker tests check the on-disk encoding of __consumer_offsets byte for byte (OffsetsTopicFormat is internal).
[assembly: InternalsVisibleTo("Tributary.Broker.Tests")]
