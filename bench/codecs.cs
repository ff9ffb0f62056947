#:project ../src/Tributary.Protocol/Tributary.Protocol.csproj
#:property PublishAot=false
#:property AllowUnsafeBlocks=true

// Compression codecs, native vs managed (issue #34). Run: bash bench/codecs.sh (needs libsnappy1v5, liblz4-1, libzstd1).
// Managed: Tributary's codecs (Snappier, K4os.Compression.LZ4, ZstdSharp.Port) through CompressionCodec. Native: the
// system's libsnappy, liblz4 and libzstd called here the same way Tributary called them before it switched: snappy in
// xerial framing with 32 KiB blocks, one LZ4 frame of 64 KiB independent blocks, zstd level 3; decompression streams
// into 64 KiB chunks. Input: the records section of a Kafka batch of ~1 KB JSON-like records (ids, timestamps, names,
// amounts from a seeded Random), batches of 16 KiB to 1 MiB. Both decoders read the same native-compressed bytes, and
// each side's output is checked to decode on the other. Produce path: RecordBatchValidator.Validate of a compressed
// ~1 MiB batch (CRC, decompression under the limit, record parsing), which is what the broker does per produced batch;
// the native figure is the same minus the managed decompression plus the native one. Consume needs no codec: the
// broker serves stored batches as they are. Bounded: fixed sizes, 500 ms warm-up, then ROUND_MS (default 150) × 5 rounds
// per measurement.
using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Tributary.Protocol.Compression;
using Tributary.Protocol.Records;

var roundMs = int.Parse(Environment.GetEnvironmentVariable("ROUND_MS") ?? "150", CultureInfo.InvariantCulture);
const int Rounds = 5;
const int WarmUpMs = 500;
const int RecordBatchHeaderBytes = 61;
int[] batchBytes = [16 * 1024, 64 * 1024, 256 * 1024, 1024 * 1024];
CompressionType[] codecs = [CompressionType.Snappy, CompressionType.Lz4, CompressionType.Zstd];

Console.WriteLine($".NET {Environment.Version}, {Environment.ProcessorCount} cores, median of {Rounds} rounds of {roundMs} ms; MB/s of uncompressed bytes");
Console.WriteLine("| codec | batch | ratio native / managed | compress native | compress managed | managed/native | decompress native | decompress managed | managed/native |");
Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
foreach (var codec in codecs)
{
    foreach (var size in batchBytes)
    {
        var records = Batch(size, CompressionType.None)[RecordBatchHeaderBytes..];
        var native = new ArrayBufferWriter<byte>(records.Length * 2);
        var managed = new ArrayBufferWriter<byte>(records.Length * 2);
        Native.Compress(codec, records, native);
        CompressionCodec.Compress(codec, records, managed);
        CheckRoundTrip(codec, records, native.WrittenSpan.ToArray(), managed.WrittenSpan.ToArray());
        var compressed = native.WrittenSpan.ToArray();
        var output = new ArrayBufferWriter<byte>(records.Length + 64 * 1024);

        var (compressNative, compressManaged, compressRatio) = Paired(records.Length,
            () => { native.ResetWrittenCount(); Native.Compress(codec, records, native); },
            () => { managed.ResetWrittenCount(); CompressionCodec.Compress(codec, records, managed); });
        var (decompressNative, decompressManaged, decompressRatio) = Paired(records.Length,
            () => { output.ResetWrittenCount(); Native.Decompress(codec, compressed, output, records.Length); },
            () => { output.ResetWrittenCount(); CompressionCodec.Decompress(codec, compressed, output, records.Length); });
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {codec} | {size / 1024} KiB | {(double)records.Length / compressed.Length:F2} / {(double)records.Length / managed.WrittenCount:F2} | {compressNative:F0} | {compressManaged:F0} | {compressRatio:F2} | {decompressNative:F0} | {decompressManaged:F0} | {decompressRatio:F2} |"));
    }
}

Console.WriteLine();
Console.WriteLine("Produce path: RecordBatchValidator.Validate of one ~1 MiB batch, µs per batch");
Console.WriteLine("| codec | managed (measured) | native (derived) | managed/native time |");
Console.WriteLine("|---|---:|---:|---:|");
foreach (var codec in codecs)
{
    var batch = Batch(1024 * 1024, codec);
    var records = Batch(1024 * 1024, CompressionType.None)[RecordBatchHeaderBytes..];
    var compressed = batch[RecordBatchHeaderBytes..];
    var output = new ArrayBufferWriter<byte>(records.Length + 64 * 1024);
    var validateUs = MicrosecondsPerCall(() => RecordBatchValidator.Validate(batch));
    var managedUs = MicrosecondsPerCall(() => { output.ResetWrittenCount(); CompressionCodec.Decompress(codec, compressed, output, records.Length); });
    var nativeUs = MicrosecondsPerCall(() => { output.ResetWrittenCount(); Native.Decompress(codec, compressed, output, records.Length); });
    var nativeValidateUs = validateUs - managedUs + nativeUs;
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {codec} | {validateUs:F0} | {nativeValidateUs:F0} | {validateUs / nativeValidateUs:F2} |"));
}

// A Kafka batch of ~1 KB JSON-like records adding up to about targetBytes.
static byte[] Batch(int targetBytes, CompressionType compression)
{
    var random = new Random(targetBytes);
    string[] names = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"];
    string[] statuses = ["created", "paid", "shipped", "delivered", "returned"];
    var builder = new RecordBatchBuilder { Compression = compression };
    var json = new StringBuilder();
    for (var i = 0; i * 1024 < targetBytes - RecordBatchHeaderBytes; i++)
    {
        json.Clear();
        json.Append(CultureInfo.InvariantCulture, $"{{\"order_id\":\"{Guid.NewGuid()}\",\"customer\":{{\"name\":\"{names[random.Next(names.Length)]}\",\"id\":{random.Next(1_000_000)}}},");
        json.Append(CultureInfo.InvariantCulture, $"\"status\":\"{statuses[random.Next(statuses.Length)]}\",\"ts\":{1_700_000_000_000 + random.Next()},\"items\":[");
        while (json.Length < 960)
        {
            json.Append(CultureInfo.InvariantCulture, $"{{\"sku\":\"SKU-{random.Next(100_000):D6}\",\"qty\":{random.Next(1, 9)},\"price\":{random.Next(100, 99_999) / 100.0:F2}}},");
        }

        json.Append("]}");
        builder.Add(1_700_000_000_000 + i, Encoding.UTF8.GetBytes($"key-{i}"), Encoding.UTF8.GetBytes(json.ToString()), []);
    }

    return builder.Build();
}

static void CheckRoundTrip(CompressionType codec, byte[] records, byte[] fromNative, byte[] fromManaged)
{
    var output = new ArrayBufferWriter<byte>();
    CompressionCodec.Decompress(codec, fromNative, output, records.Length);
    var managedReadsNative = output.WrittenSpan.SequenceEqual(records);
    output.ResetWrittenCount();
    Native.Decompress(codec, fromManaged, output, records.Length);
    if (!managedReadsNative || !output.WrittenSpan.SequenceEqual(records))
    {
        throw new InvalidOperationException($"{codec}: native and managed do not read each other's output");
    }
}

// Native and managed rounds alternate, so load from other processes falls on both alike; the ratio is the median of
// each round pair's ratio. Returns MB/s (medians) and managed/native.
(double Native, double Managed, double Ratio) Paired(int bytes, Action native, Action managed)
{
    MicrosecondsPerCall(native, warmUpMs: WarmUpMs, rounds: 1);
    MicrosecondsPerCall(managed, warmUpMs: WarmUpMs, rounds: 1);
    var nativeRates = new List<double>();
    var managedRates = new List<double>();
    var ratios = new List<double>();
    for (var round = 0; round < Rounds; round++)
    {
        nativeRates.Add(bytes / MicrosecondsPerCall(native, warmUpMs: 0, rounds: 1));
        managedRates.Add(bytes / MicrosecondsPerCall(managed, warmUpMs: 0, rounds: 1));
        ratios.Add(managedRates[^1] / nativeRates[^1]);
    }

    return (Median(nativeRates), Median(managedRates), Median(ratios));
}

static double Median(List<double> values)
{
    values.Sort();
    return values[values.Count / 2];
}

// Median over Rounds of the mean time per call within roundMs, after a warm-up of WarmUpMs (tiered JIT settles).
double MicrosecondsPerCall(Action action, int warmUpMs = WarmUpMs, int rounds = Rounds)
{
    var perCall = new List<double>();
    for (var warmUp = Stopwatch.StartNew(); warmUp.ElapsedMilliseconds < warmUpMs;)
    {
        action();
    }

    for (var round = 0; round < rounds; round++)
    {
        var calls = 0;
        var stopwatch = Stopwatch.StartNew();
        while (stopwatch.ElapsedMilliseconds < roundMs)
        {
            action();
            calls++;
        }

        perCall.Add(stopwatch.Elapsed.TotalMicroseconds / calls);
    }

    return Median(perCall);
}

/// <summary>The system libraries, called as Tributary's codecs called them when they were native.</summary>
internal static unsafe class Native
{
    private const int ChunkBytes = 64 * 1024;
    private const int XerialBlockBytes = 32 * 1024;

    public static void Compress(CompressionType codec, ReadOnlySpan<byte> source, IBufferWriter<byte> destination)
    {
        fixed (byte* input = source)
        {
            switch (codec)
            {
                case CompressionType.Snappy:
                    var header = destination.GetSpan(16);
                    SnappyCodec.XerialMagic.CopyTo(header);
                    BinaryPrimitives.WriteInt32BigEndian(header[8..], 1);
                    BinaryPrimitives.WriteInt32BigEndian(header[12..], 1);
                    destination.Advance(16);
                    for (var position = 0; position < source.Length; position += XerialBlockBytes)
                    {
                        var blockLength = Math.Min(XerialBlockBytes, source.Length - position);
                        var span = destination.GetSpan(4 + (int)snappy_max_compressed_length((nuint)blockLength));
                        fixed (byte* output = span)
                        {
                            var length = (nuint)(span.Length - 4);
                            Check(snappy_compress(input + position, (nuint)blockLength, output + 4, &length) == 0, "snappy_compress");
                            BinaryPrimitives.WriteInt32BigEndian(span, (int)length);
                            destination.Advance(4 + (int)length);
                        }
                    }

                    break;
                case CompressionType.Lz4:
                    var preferences = new Lz4Preferences { BlockSizeId = 4, BlockMode = 1 };
                    var lz4Span = destination.GetSpan((int)LZ4F_compressFrameBound((nuint)source.Length, &preferences));
                    fixed (byte* output = lz4Span)
                    {
                        var result = LZ4F_compressFrame(output, (nuint)lz4Span.Length, input, (nuint)source.Length, &preferences);
                        Check(LZ4F_isError(result) == 0, "LZ4F_compressFrame");
                        destination.Advance((int)result);
                    }

                    break;
                case CompressionType.Zstd:
                    var zstdSpan = destination.GetSpan((int)ZSTD_compressBound((nuint)source.Length));
                    fixed (byte* output = zstdSpan)
                    {
                        var result = ZSTD_compress(output, (nuint)zstdSpan.Length, input, (nuint)source.Length, ZstdCodec.DefaultLevel);
                        Check(ZSTD_isError(result) == 0, "ZSTD_compress");
                        destination.Advance((int)result);
                    }

                    break;
                default:
                    throw new ArgumentOutOfRangeException(nameof(codec));
            }
        }
    }

    public static void Decompress(CompressionType codec, ReadOnlySpan<byte> source, IBufferWriter<byte> destination, int decompressedBytesMax)
    {
        fixed (byte* input = source)
        {
            switch (codec)
            {
                case CompressionType.Snappy:
                    for (var position = 16; position < source.Length;)
                    {
                        var blockLength = BinaryPrimitives.ReadInt32BigEndian(source[position..]);
                        position += 4;
                        nuint length;
                        Check(snappy_uncompressed_length(input + position, (nuint)blockLength, &length) == 0 && (int)length <= decompressedBytesMax, "snappy length");
                        var span = destination.GetSpan((int)length);
                        fixed (byte* output = span)
                        {
                            Check(snappy_uncompress(input + position, (nuint)blockLength, output, &length) == 0, "snappy_uncompress");
                        }

                        destination.Advance((int)length);
                        position += blockLength;
                    }

                    break;
                case CompressionType.Lz4:
                    nint context;
                    Check(LZ4F_isError(LZ4F_createDecompressionContext(&context, 100)) == 0, "LZ4F_createDecompressionContext");
                    try
                    {
                        var position = 0;
                        while (position < source.Length)
                        {
                            var span = destination.GetSpan(ChunkBytes);
                            var produced = (nuint)span.Length;
                            var consumed = (nuint)(source.Length - position);
                            fixed (byte* output = span)
                            {
                                Check(LZ4F_isError(LZ4F_decompress(context, output, &produced, input + position, &consumed, null)) == 0, "LZ4F_decompress");
                            }

                            position += (int)consumed;
                            destination.Advance((int)produced);
                        }
                    }
                    finally
                    {
                        LZ4F_freeDecompressionContext(context);
                    }

                    break;
                case CompressionType.Zstd:
                    var dctx = ZSTD_createDCtx();
                    try
                    {
                        var inBuffer = new ZstdBuffer { Pointer = input, Size = (nuint)source.Length };
                        nuint result = 1;
                        while (result != 0 || inBuffer.Position < inBuffer.Size)
                        {
                            var span = destination.GetSpan(ChunkBytes);
                            fixed (byte* output = span)
                            {
                                var outBuffer = new ZstdBuffer { Pointer = output, Size = (nuint)span.Length };
                                result = ZSTD_decompressStream(dctx, &outBuffer, &inBuffer);
                                Check(ZSTD_isError(result) == 0, "ZSTD_decompressStream");
                                destination.Advance((int)outBuffer.Position);
                            }
                        }
                    }
                    finally
                    {
                        ZSTD_freeDCtx(dctx);
                    }

                    break;
                default:
                    throw new ArgumentOutOfRangeException(nameof(codec));
            }
        }
    }

    private static void Check(bool ok, string call)
    {
        if (!ok)
        {
            throw new InvalidOperationException($"{call} failed");
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct Lz4Preferences
    {
        public int BlockSizeId, BlockMode, ContentChecksumFlag, FrameType;
        public ulong ContentSize;
        public uint DictionaryId;
        public int BlockChecksumFlag, CompressionLevel;
        public uint AutoFlush, FavorDecompressionSpeed, Reserved0, Reserved1, Reserved2;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct ZstdBuffer
    {
        public byte* Pointer;
        public nuint Size;
        public nuint Position;
    }

    [DllImport("libsnappy.so.1")] private static extern int snappy_compress(byte* input, nuint inputLength, byte* compressed, nuint* compressedLength);
    [DllImport("libsnappy.so.1")] private static extern int snappy_uncompress(byte* compressed, nuint compressedLength, byte* uncompressed, nuint* uncompressedLength);
    [DllImport("libsnappy.so.1")] private static extern nuint snappy_max_compressed_length(nuint sourceLength);
    [DllImport("libsnappy.so.1")] private static extern int snappy_uncompressed_length(byte* compressed, nuint compressedLength, nuint* result);
    [DllImport("liblz4.so.1")] private static extern nuint LZ4F_compressFrameBound(nuint sourceSize, Lz4Preferences* preferences);
    [DllImport("liblz4.so.1")] private static extern nuint LZ4F_compressFrame(byte* destination, nuint capacity, byte* source, nuint sourceSize, Lz4Preferences* preferences);
    [DllImport("liblz4.so.1")] private static extern uint LZ4F_isError(nuint code);
    [DllImport("liblz4.so.1")] private static extern nuint LZ4F_createDecompressionContext(nint* context, uint version);
    [DllImport("liblz4.so.1")] private static extern nuint LZ4F_freeDecompressionContext(nint context);
    [DllImport("liblz4.so.1")] private static extern nuint LZ4F_decompress(nint context, byte* destination, nuint* destinationSize, byte* source, nuint* sourceSize, void* options);
    [DllImport("libzstd.so.1")] private static extern nuint ZSTD_compressBound(nuint sourceSize);
    [DllImport("libzstd.so.1")] private static extern nuint ZSTD_compress(byte* destination, nuint capacity, byte* source, nuint sourceSize, int level);
    [DllImport("libzstd.so.1")] private static extern uint ZSTD_isError(nuint code);
    [DllImport("libzstd.so.1")] private static extern nint ZSTD_createDCtx();
    [DllImport("libzstd.so.1")] private static extern nuint ZSTD_freeDCtx(nint context);
    [DllImport("libzstd.so.1")] private static extern nuint ZSTD_decompressStream(nint context, ZstdBuffer* output, ZstdBuffer* input);
}
