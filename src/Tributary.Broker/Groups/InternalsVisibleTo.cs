using System.Runtime.CompilerServices;

// The broker tests check the on-disk encoding of __consumer_offsets byte for byte (OffsetsTopicFormat is internal).
[assembly: InternalsVisibleTo("Tributary.Broker.Tests")]

// The fuzzer's seed corpus of the internal topics is written with the real record formats.
[assembly: InternalsVisibleTo("Tributary.Fuzz")]
