using System.Runtime.InteropServices;

namespace Tributary.Protocol.Compression;

/// <summary>The C API of the system's libsnappy (Debian package libsnappy1v5).</summary>
internal static unsafe partial class SnappyNative
{
    private const string Library = "libsnappy.so.1";

    public const int Ok = 0;
    public const int InvalidInput = 1;
    public const int BufferTooSmall = 2;

    [LibraryImport(Library, EntryPoint = "snappy_compress")]
    public static partial int Compress(byte* input, nuint inputLength, byte* compressed, nuint* compressedLength);

    [LibraryImport(Library, EntryPoint = "snappy_uncompress")]
    public static partial int Uncompress(byte* compressed, nuint compressedLength, byte* uncompressed, nuint* uncompressedLength);

    [LibraryImport(Library, EntryPoint = "snappy_max_compressed_length")]
    public static partial nuint MaxCompressedLength(nuint sourceLength);

    [LibraryImport(Library, EntryPoint = "snappy_uncompressed_length")]
    public static partial int UncompressedLength(byte* compressed, nuint compressedLength, nuint* result);
}
