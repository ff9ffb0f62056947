using System.Runtime.InteropServices;

namespace Tributary.TestSupport;

/// <summary>
/// librdkafka's share consumer (KIP-932) through the few <c>rd_kafka_share_*</c> functions of its C API the tests
/// need, declared from rdkafka.h's documentation (the NuGet package ships no header and Confluent.Kafka 2.16 has no
/// binding), on the same centos8 build Confluent.Kafka loads (<see cref="Librdkafka"/>). In explicit acknowledgement
/// mode every record a poll returns must be acknowledged before the next poll, which sends the acknowledgements.
/// Not thread-safe, like the handle it wraps.
/// </summary>
internal sealed partial class ShareConsumer : IDisposable
{
    public const int Accept = 1;
    public const int Release = 2;
    public const int Reject = 3;

    private const string Lib = "librdkafka";

    private static readonly Lazy<bool> ResolverSet = new(() =>
    {
        Librdkafka.EnsureLoaded();
        var centos8 = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "centos8-librdkafka.so");
        NativeLibrary.SetDllImportResolver(typeof(ShareConsumer).Assembly, (name, _, _) =>
            name == Lib ? NativeLibrary.Load(File.Exists(centos8) ? centos8 : Path.Combine(Path.GetDirectoryName(centos8)!, "librdkafka.so")) : IntPtr.Zero);
        return true;
    });

    private IntPtr _handle;
    private IntPtr _batch;

    public ShareConsumer(string bootstrapServers, string groupId, string topic, IReadOnlyDictionary<string, string>? settings = null)
    {
        _ = ResolverSet.Value;
        var conf = rd_kafka_conf_new();
        var all = new Dictionary<string, string>
        {
            ["bootstrap.servers"] = bootstrapServers,
            ["group.id"] = groupId,
            ["share.acknowledgement.mode"] = "explicit",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
        {
            all[key] = value;
        }

        var error = new byte[512];
        foreach (var (key, value) in all)
        {
            if (rd_kafka_conf_set(conf, key, value, error, error.Length) != 0)
            {
                throw new InvalidOperationException($"{key}={value}: {ErrorText(error)}");
            }
        }

        _handle = rd_kafka_share_consumer_new(conf, error, error.Length);
        if (_handle == IntPtr.Zero)
        {
            throw new InvalidOperationException($"rd_kafka_share_consumer_new: {ErrorText(error)}");
        }

        var topics = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(topics, topic, -1);
        var subscribed = rd_kafka_share_subscribe(_handle, topics);
        rd_kafka_topic_partition_list_destroy(topics);
        if (subscribed != 0)
        {
            throw new InvalidOperationException($"rd_kafka_share_subscribe: error {subscribed}");
        }
    }

    /// <summary>One poll: the records it returns (an error record is skipped), valid until the next poll.</summary>
    public IReadOnlyList<ShareRecord> Poll(int timeoutMs)
    {
        if (_batch != IntPtr.Zero)
        {
            rd_kafka_messages_destroy(_batch);
            _batch = IntPtr.Zero;
        }

        var error = rd_kafka_share_poll(_handle, timeoutMs, out _batch);
        if (error != IntPtr.Zero)
        {
            var text = Marshal.PtrToStringUTF8(rd_kafka_error_string(error));
            rd_kafka_error_destroy(error);
            throw new InvalidOperationException($"rd_kafka_share_poll: {text}");
        }

        var records = new List<ShareRecord>();
        var count = _batch == IntPtr.Zero ? 0 : (int)rd_kafka_messages_count(_batch);
        for (var i = 0; i < count; i++)
        {
            var message = rd_kafka_messages_get(_batch, (nuint)i);
            var native = Marshal.PtrToStructure<NativeMessage>(message);
            if (native.Err != 0)
            {
                continue;
            }

            var value = native.Payload == IntPtr.Zero ? "" : Marshal.PtrToStringUTF8(native.Payload, checked((int)native.Len));
            records.Add(new ShareRecord(message, native.Partition, native.Offset, value, rd_kafka_message_delivery_count(message)));
        }

        return records;
    }

    /// <summary>Acknowledges a record of the latest poll with ACCEPT, RELEASE or REJECT.</summary>
    public void Acknowledge(ShareRecord record, int type)
    {
        var error = rd_kafka_share_acknowledge_type(_handle, record.Handle, type);
        if (error != 0)
        {
            throw new InvalidOperationException($"rd_kafka_share_acknowledge_type: error {error}");
        }
    }

    /// <summary>Sends the pending acknowledgements and waits for the broker's answers.</summary>
    public void CommitSync(int timeoutMs)
    {
        var error = rd_kafka_share_commit_sync(_handle, timeoutMs, out var partitions);
        if (partitions != IntPtr.Zero)
        {
            rd_kafka_topic_partition_list_destroy(partitions);
        }

        if (error != IntPtr.Zero)
        {
            rd_kafka_error_destroy(error);
        }
    }

    public void Dispose()
    {
        if (_handle == IntPtr.Zero)
        {
            return;
        }

        if (_batch != IntPtr.Zero)
        {
            rd_kafka_messages_destroy(_batch);
            _batch = IntPtr.Zero;
        }

        var closed = rd_kafka_share_consumer_close(_handle);
        if (closed != IntPtr.Zero)
        {
            rd_kafka_error_destroy(closed);
        }

        rd_kafka_share_destroy(_handle);
        _handle = IntPtr.Zero;
    }

    private static string ErrorText(byte[] error) => System.Text.Encoding.UTF8.GetString(error).TrimEnd('\0');

    // rd_kafka_message_t's public fields, in order (rdkafka.h).
    [StructLayout(LayoutKind.Sequential)]
    private struct NativeMessage
    {
        public int Err;
        public IntPtr Topic;
        public int Partition;
        public IntPtr Payload;
        public nuint Len;
        public IntPtr Key;
        public nuint KeyLen;
        public long Offset;
        public IntPtr Private;
    }

    [LibraryImport(Lib)]
    private static partial IntPtr rd_kafka_conf_new();

    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int rd_kafka_conf_set(IntPtr conf, string name, string value, [Out] byte[] errstr, nint errstrSize);

    [LibraryImport(Lib)]
    private static partial IntPtr rd_kafka_share_consumer_new(IntPtr conf, [Out] byte[] errstr, nint errstrSize);

    [LibraryImport(Lib)]
    private static partial IntPtr rd_kafka_topic_partition_list_new(int size);

    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    private static partial IntPtr rd_kafka_topic_partition_list_add(IntPtr list, string topic, int partition);

    [LibraryImport(Lib)]
    private static partial void rd_kafka_topic_partition_list_destroy(IntPtr list);

    [LibraryImport(Lib)]
    private static partial int rd_kafka_share_subscribe(IntPtr rkshare, IntPtr topics);

    [LibraryImport(Lib)]
    private static partial IntPtr rd_kafka_share_poll(IntPtr rkshare, int timeoutMs, out IntPtr messages);

    [LibraryImport(Lib)]
    private static partial nuint rd_kafka_messages_count(IntPtr messages);

    [LibraryImport(Lib)]
    private static partial IntPtr rd_kafka_messages_get(IntPtr messages, nuint index);

    [LibraryImport(Lib)]
    private static partial void rd_kafka_messages_destroy(IntPtr messages);

    [LibraryImport(Lib)]
    private static partial short rd_kafka_message_delivery_count(IntPtr message);

    [LibraryImport(Lib)]
    private static partial int rd_kafka_share_acknowledge_type(IntPtr rkshare, IntPtr message, int type);

    [LibraryImport(Lib)]
    private static partial IntPtr rd_kafka_share_commit_sync(IntPtr rkshare, int timeoutMs, out IntPtr partitions);

    [LibraryImport(Lib)]
    private static partial IntPtr rd_kafka_share_consumer_close(IntPtr rkshare);

    [LibraryImport(Lib)]
    private static partial IntPtr rd_kafka_share_destroy(IntPtr rkshare);

    [LibraryImport(Lib)]
    private static partial IntPtr rd_kafka_error_string(IntPtr error);

    [LibraryImport(Lib)]
    private static partial void rd_kafka_error_destroy(IntPtr error);
}

/// <summary>A record a share consumer's poll returned, with the native message handle its acknowledgement needs.</summary>
internal sealed record ShareRecord(IntPtr Handle, int Partition, long Offset, string Value, short DeliveryCount);
