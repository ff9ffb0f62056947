using Microsoft.Extensions.Logging.Abstractions;
using Tributary.Broker;
using Tributary.Broker.Dispatch;
using Tributary.Broker.Handlers;
using Tributary.Broker.Metadata;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using Tributary.Storage.Devices;
using Tributary.TestSupport;

namespace Tributary.Fuzz;

/// <summary>
/// The metadata snapshot a broker starts from: the input is <c>__tributary_metadata.json</c> on an in-memory device,
/// and a broker starts on it, then answers Metadata and DescribeConfigs for every topic. A snapshot the broker cannot
/// start from must be reported (<see cref="InvalidDataException"/> or <see cref="IOException"/>, which the CLI prints
/// as "Not started: …"); a topic it cannot open is offline. Any other exception, or a handler that fails on the loaded
/// state, is a bug.
/// </summary>
public static class MetadataTarget
{
    /// <summary>
    /// Partitions a snapshot may list for the broker to be started on it here: more take longer to open than a fuzzer
    /// can wait for each input (time, not correctness; the per-topic limit is the store's to enforce).
    /// </summary>
    private const int PartitionsMax = 10_000;

    /// <summary>The data directory's lock file is real, so each fuzzing process has a directory of its own.</summary>
    private static readonly string DataDirectory = Path.Combine(Path.GetTempPath(), $"tributary-fuzz-metadata-{Environment.ProcessId}");

    public static void Run(byte[] input)
    {
        var device = new MemoryLogDevice();
        device.CreateDirectory(DataDirectory);
        using (var file = device.OpenFile(Path.Combine(DataDirectory, MetadataStore.FileName)))
        {
            file.Append(input);
            file.Flush();
        }

        try
        {
            var store = new MetadataStore(DataDirectory, device);
            if (store.Topics.Sum(t => (long)t.PartitionCount) > PartitionsMax)
            {
                return;
            }

            Start(device);
        }
        catch (Exception e) when (e is InvalidDataException or IOException)
        {
            // Reported: the broker does not start and says why (a file that is not a snapshot, a disk it cannot use).
        }
        finally
        {
            if (Directory.Exists(DataDirectory))
            {
                Directory.Delete(DataDirectory, recursive: true);
            }
        }
    }

    private static void Start(MemoryLogDevice device)
    {
        var log = new FailureLog();
        var time = new ManualTimeProvider();
        using var broker = new BrokerCore(FuzzBrokerConfig.OnDisk(DataDirectory), time, NullLoggerFactory.Instance, device);
        var dispatcher = HandlerCatalog.CreateDispatcher(broker, log);
        var connection = new ConnectionInfo("fuzz-1", null);
        var topics = broker.Metadata.Topics.Select(t => t.Name).ToList();
        byte[][] frames =
        [
            RequestFrames.Encode(ApiKey.Metadata, 12, new MetadataRequest { Topics = null, AllowAutoTopicCreation = false }),
            RequestFrames.Encode(ApiKey.DescribeConfigs, 4, new DescribeConfigsRequest
            {
                Resources = [.. topics.Select(t => new DescribeConfigsRequest.DescribeConfigsResource { ResourceType = 2, ResourceName = t, ConfigurationKeys = null })],
                IncludeSynonyms = true,
            }),
        ];
        foreach (var frame in frames)
        {
            if (!FrameTarget.Dispatch(dispatcher, frame, connection, time))
            {
                throw new FuzzFailureException($"a well-formed request (API {BitConverter.ToString(frame, 0, 4)}) closed the connection");
            }
        }

        log.ThrowIfFailed();
    }
}
