using System.Buffers;
using Tributary.Broker.Config;
using Tributary.Broker.Dispatch;
using Tributary.Broker.Metadata;
using Tributary.Protocol;

namespace Tributary.Broker.Tests;

/// <summary>
/// A broker (in memory, or on disk with <see cref="OnDisk"/>) and a way to drive its handlers with typed requests, no
/// sockets. Requests and responses both pass through their wire encoding at the version under test, so a response
/// field that version cannot carry fails the test the way it would fail a connection. The group and transaction
/// tests' brokers (GroupTestBroker, TransactionTestBroker) build on it with a manual clock.
/// </summary>
internal sealed class TestBroker : IDisposable
{
    private int _correlationId;

    public TestBroker(params string[] settings)
        : this(Parse(settings.Prepend("tributary.storage=memory")) with { InMemoryStorage = true })
    {
    }

    /// <summary>
    /// A broker with <paramref name="config"/> on <paramref name="time"/>'s clock: with a <paramref name="directory"/>,
    /// storage is on disk there (the caller deletes it; on <paramref name="device"/> when given), otherwise in memory.
    /// </summary>
    public TestBroker(BrokerConfig config, TimeProvider time, string? directory = null, Storage.Devices.ILogDevice? device = null)
        : this(directory is null ? config with { InMemoryStorage = true } : config with { LogDir = directory }, device, time)
    {
    }

    private TestBroker(BrokerConfig config, Storage.Devices.ILogDevice? device = null, TimeProvider? time = null) =>
        Core = new BrokerCore(config, time, device: device);

    /// <summary>A broker whose data directory is <paramref name="directory"/> on disk, with the real file device.</summary>
    public static TestBroker OnDisk(string directory, params string[] settings) => new(Parse(settings.Prepend($"log.dirs={directory}")));

    /// <summary>
    /// An on-disk broker whose metadata and logs live on <paramref name="device"/> (its directory lock in the real
    /// <paramref name="directory"/>), for tests that make the disk fail.
    /// </summary>
    public static TestBroker OnDevice(string directory, Storage.Devices.ILogDevice device, params string[] settings) =>
        new(Parse(settings.Prepend($"log.dirs={directory}")), device);

    public BrokerCore Core { get; }

    public TopicInfo CreateTopic(string name, int partitions = 1, IReadOnlyDictionary<string, string>? configs = null) =>
        Core.CreateTopic(name, partitions, configs ?? new Dictionary<string, string>()).Topic;

    public TopicInfo Topic(string name) => Core.Metadata.Find(name) ?? throw new InvalidOperationException($"no topic {name}");

    public async Task<TResponse> SendAsync<TRequest, TResponse>(ApiHandler<TRequest, TResponse> handler, TRequest request, short version)
        where TRequest : class, IKafkaMessage<TRequest>
        where TResponse : class, IKafkaMessage<TResponse>
    {
        return await CallAsync(handler, Context(handler, version), request);
    }

    public TResponse ErrorResponse<TRequest, TResponse>(ApiHandler<TRequest, TResponse> handler, TRequest request, short version, ErrorCode error)
        where TRequest : class, IKafkaMessage<TRequest>
        where TResponse : class, IKafkaMessage<TResponse>
    {
        var response = handler.ErrorResponse(Context(handler, version), Encode(request, version), error);
        return RoundTrip(Assert.IsType<TResponse>(response), version);
    }

    /// <summary>
    /// Sends <paramref name="request"/>, encoded at the context's version, through the handler's byte entry point and
    /// returns the response as a client would read it at that version; fails after <paramref name="timeout"/> if given.
    /// </summary>
    public static async Task<TResponse> CallAsync<TRequest, TResponse>(ApiHandler<TRequest, TResponse> handler, RequestContext context, TRequest request, TimeSpan? timeout = null)
        where TRequest : class, IKafkaMessage<TRequest>
        where TResponse : class, IKafkaMessage<TResponse>
    {
        var handled = handler.HandleAsync(context, Encode(request, context.ApiVersion), CancellationToken.None).AsTask();
        var result = timeout is { } limit ? await handled.WaitAsync(limit) : await handled;
        var response = RoundTrip(Assert.IsType<TResponse>(result.Response), context.ApiVersion);
        result.Buffers?.Release();
        return response;
    }

    private static BrokerConfig Parse(IEnumerable<string> settings)
    {
        var (config, errors) = BrokerConfig.Parse(settings.Select(s => s.Split('=', 2)).Select(kv => KeyValuePair.Create(kv[0], kv[1])));
        Assert.Empty(errors);
        return config!;
    }

    private RequestContext Context(IApiHandler handler, short version)
    {
        Assert.InRange(version, handler.MinVersion, handler.MaxVersion);
        return new RequestContext(handler.Key, version, ++_correlationId, "test", new ConnectionInfo("conn-1", null));
    }

    private static byte[] Encode(IKafkaMessage message, short version)
    {
        var buffer = new ArrayBufferWriter<byte>();
        var writer = new KafkaWriter(buffer);
        message.Write(ref writer, version);
        return buffer.WrittenSpan.ToArray();
    }

    private static T RoundTrip<T>(T message, short version)
        where T : class, IKafkaMessage<T>
    {
        var reader = new KafkaReader(Encode(message, version));
        return T.Read(ref reader, version);
    }

    /// <summary>One record batch holding one record (no key) per value.</summary>
    public static byte[] Batch(params string[] values)
    {
        var builder = new Protocol.Records.RecordBatchBuilder();
        foreach (var v in values)
        {
            builder.Add(1_000, null, System.Text.Encoding.UTF8.GetBytes(v));
        }

        return builder.Build();
    }

    public void Dispose() => Core.Dispose();
}
