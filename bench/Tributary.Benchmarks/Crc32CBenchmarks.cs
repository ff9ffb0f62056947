using BenchmarkDotNet.Attributes;
using Tributary.Protocol.Records;

namespace Tributary.Benchmarks;

/// <summary>CRC32C over 1 MiB: the check every produced batch and every recovered segment pays.</summary>
[MemoryDiagnoser]
public class Crc32CBenchmarks
{
    public const int BufferBytes = 1024 * 1024;

    private readonly byte[] _buffer = new byte[BufferBytes];

    [GlobalSetup]
    public void Setup() => new Random(1).NextBytes(_buffer);

    [Benchmark(Description = "CRC32C 1 MiB")]
    public uint Crc32COneMebibyte() => Crc32C.Compute(_buffer);
}
