using Microsoft.Extensions.Logging.Abstractions;
using Tributary.Broker.Config;
using Tributary.Broker.Handlers;
using Tributary.Broker.Metadata;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using Tributary.Protocol.Records;
using Tributary.Storage.Devices;

namespace Tributary.Broker.Tests;

/// <summary>
/// Topic changes on a disk that refuses them (full, out of descriptors): each is stored and visible whole, or not at
/// all with KAFKA_STORAGE_ERROR, works once the disk does again, and never leaves a state the broker cannot start from.
/// </summary>
public sealed class DiskFailureTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "tributary-disk-failure-tests", Guid.NewGuid().ToString("N"));
    private readonly FaultyDevice _device = new(new MemoryLogDevice());
    private TestBroker _broker;

    public DiskFailureTests()
    {
        Directory.CreateDirectory(_directory);
        _broker = TestBroker.OnDevice(_directory, _device);
    }

    public void Dispose()
    {
        _device.Refuses = _ => false;
        _device.OpenFilesMax = int.MaxValue;
        _broker.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    private string DataDirectory => _broker.Core.Config.LogDir;

    private static bool IsMetadataWrite(string path) => path.EndsWith(MetadataStore.FileName + ".tmp", StringComparison.Ordinal);

    private void Restart()
    {
        _broker.Dispose();
        _broker = TestBroker.OnDevice(_directory, _device);
    }

    private IEnumerable<string> PartitionDirectories(string topic) =>
        _device.ListDirectories(Path.GetFullPath(DataDirectory))
            .Where(d => d.StartsWith(topic + "-", StringComparison.Ordinal) && !d.EndsWith(Tributary.Storage.LogManager.DeleteDirectorySuffix, StringComparison.Ordinal));

    private async Task<CreateTopicsResponse.CreatableTopicResult> CreateAsync(string name, int partitions)
    {
        var request = new CreateTopicsRequest { Topics = [new CreateTopicsRequest.CreatableTopic { Name = name, NumPartitions = partitions, ReplicationFactor = -1 }] };
        return Assert.Single((await _broker.SendAsync(new CreateTopicsHandler(_broker.Core), request, 7)).Topics);
    }

    private async Task<DeleteTopicsResponse.DeletableTopicResult> DeleteAsync(string name) =>
        Assert.Single((await _broker.SendAsync(new DeleteTopicsHandler(_broker.Core), new DeleteTopicsRequest { TopicNames = [name] }, 5)).Responses);

    private async Task<short> ProduceAsync(string topic, int partition)
    {
        var builder = new RecordBatchBuilder();
        builder.Add(1_000, "k"u8.ToArray(), "v"u8.ToArray());
        var request = new ProduceRequest { Acks = -1, TimeoutMs = 1000 };
        request.TopicData.Add(new ProduceRequest.TopicProduceData
        {
            Name = topic,
            PartitionData = [new ProduceRequest.PartitionProduceData { Index = partition, Records = builder.Build() }],
        });
        var response = await _broker.SendAsync(new ProduceHandler(_broker.Core, NullLogger<ProduceHandler>.Instance), request, 9);
        return Assert.Single(Assert.Single(response.Responses).PartitionResponses).ErrorCode;
    }

    private async Task<MetadataResponse> MetadataAsync() =>
        await _broker.SendAsync(new MetadataHandler(_broker.Core), new MetadataRequest { Topics = null }, 12);

    private async Task<short> FetchAsync(string topic, int partition)
    {
        var request = new FetchRequest { MaxWaitMs = 0, MinBytes = 0, MaxBytes = 1 << 20, SessionEpoch = -1 };
        request.Topics.Add(new FetchRequest.FetchTopic { Topic = topic, Partitions = [new FetchRequest.FetchPartition { Partition = partition, PartitionMaxBytes = 1 << 20 }] });
        var response = await _broker.SendAsync(new FetchHandler(_broker.Core), request, 12);
        return Assert.Single(Assert.Single(response.Responses).Partitions).ErrorCode;
    }

    [Fact]
    public async Task Stored_topics_the_logs_refuse_are_offline_and_the_broker_still_starts()
    {
        _broker.CreateTopic("good", 1);
        _broker.Dispose();

        // What an older version could store: a name ending in a newline, a segment.bytes the log refuses.
        var store = new MetadataStore(_directory, _device);
        store.Create("rel-x\n", 1, new Dictionary<string, string>());
        store.Create("tiny", 2, new Dictionary<string, string> { ["segment.bytes"] = "20" });
        _broker = TestBroker.OnDevice(_directory, _device);

        var topics = (await MetadataAsync()).Topics.ToDictionary(t => t.Name!);
        Assert.Equal((short)ErrorCode.None, Assert.Single(topics["good"].Partitions).ErrorCode);
        Assert.All(topics["tiny"].Partitions.Concat(topics["rel-x\n"].Partitions), p =>
        {
            Assert.Equal((short)ErrorCode.KafkaStorageError, p.ErrorCode);
            Assert.Equal([_broker.Core.NodeId], p.OfflineReplicas);
        });
        Assert.Equal((short)ErrorCode.KafkaStorageError, await ProduceAsync("tiny", 1));
        Assert.Equal((short)ErrorCode.KafkaStorageError, await FetchAsync("tiny", 1));
        Assert.Equal((short)ErrorCode.None, await ProduceAsync("good", 0));

        // Deleting the broken topics clears them for good.
        Assert.Equal((short)ErrorCode.None, (await DeleteAsync("tiny")).ErrorCode);
        Assert.Equal((short)ErrorCode.None, (await DeleteAsync("rel-x\n")).ErrorCode);
        Restart();
        Assert.Equal(["good"], (await MetadataAsync()).Topics.Select(t => t.Name));
    }

    [Fact]
    public async Task Partitions_that_cannot_be_opened_at_start_are_offline_until_a_restart_opens_them()
    {
        _broker.CreateTopic("wide", 10);
        _broker.Dispose();

        // Three files per partition, and a fourth (its producer snapshot) while it loads: five partitions open, the
        // other five run out of descriptors.
        _device.OpenFilesMax = 16;
        _broker = TestBroker.OnDevice(_directory, _device);

        var partitions = Assert.Single((await MetadataAsync()).Topics).Partitions;
        Assert.Equal(5, partitions.Count(p => p.ErrorCode == (short)ErrorCode.KafkaStorageError));
        var offline = partitions.First(p => p.ErrorCode != 0).PartitionIndex;
        var online = partitions.First(p => p.ErrorCode == 0).PartitionIndex;
        Assert.Equal((short)ErrorCode.KafkaStorageError, await ProduceAsync("wide", offline));
        Assert.Equal((short)ErrorCode.KafkaStorageError, await FetchAsync("wide", offline));
        Assert.Equal((short)ErrorCode.None, await ProduceAsync("wide", online));

        _device.OpenFilesMax = int.MaxValue;
        Restart();
        Assert.All(Assert.Single((await MetadataAsync()).Topics).Partitions, p => Assert.Equal((short)ErrorCode.None, p.ErrorCode));
        Assert.Equal((short)ErrorCode.None, await ProduceAsync("wide", offline));
    }

    [Theory]
    [InlineData("{ \"ClusterId\": \"abc\", \"Topics\": [")]
    [InlineData("{ \"ClusterId\": \"abc\", \"Topics\": [{ \"Name\": null, \"Id\": \"11111111-1111-1111-1111-111111111111\", \"PartitionCount\": 1, \"Configs\": {} }] }")]
    [InlineData("{ \"ClusterId\": \"abc\", \"Topics\": [{ \"Name\": \"wide\", \"Id\": \"11111111-1111-1111-1111-111111111111\", \"PartitionCount\": 10001, \"Configs\": {} }] }")]
    public void An_unreadable_metadata_snapshot_stops_the_start_with_a_message_naming_it(string content)
    {
        _broker.Dispose();
        var path = Path.Combine(_directory, MetadataStore.FileName);
        _device.DeleteFile(path);
        using (var file = _device.OpenFile(path))
        {
            file.Append(System.Text.Encoding.UTF8.GetBytes(content));
        }

        // InvalidDataException, which the CLI reports as one "Not started" line, rather than whatever the parser threw.
        var refused = Assert.Throws<InvalidDataException>(() => TestBroker.OnDevice(_directory, _device));
        Assert.Contains(MetadataStore.FileName, refused.Message, StringComparison.Ordinal);

        // The directory lock was released: with the snapshot gone the broker starts afresh.
        _device.DeleteFile(path);
        _broker = TestBroker.OnDevice(_directory, _device);
    }

    [Fact]
    public async Task Delete_topics_on_a_full_disk_leaves_the_topic_whole_and_a_retry_deletes_it()
    {
        _broker.CreateTopic("orders", 2);
        _device.Refuses = IsMetadataWrite;

        var refused = await DeleteAsync("orders");

        Assert.Equal((short)ErrorCode.KafkaStorageError, refused.ErrorCode);
        var topic = _broker.Topic("orders");
        Assert.NotNull(_broker.Core.FindLog(topic, 1));
        Assert.Equal(2, PartitionDirectories("orders").Count());
        Assert.Equal((short)ErrorCode.None, await ProduceAsync("orders", 1));

        _device.Refuses = _ => false;
        Assert.Equal((short)ErrorCode.None, (await DeleteAsync("orders")).ErrorCode);
        Assert.Null(_broker.Core.Metadata.Find("orders"));
        Assert.Empty(PartitionDirectories("orders"));
    }

    [Fact]
    public async Task Create_topics_on_a_full_disk_creates_nothing_and_works_once_space_returns()
    {
        _device.Refuses = IsMetadataWrite;

        Assert.Equal((short)ErrorCode.KafkaStorageError, (await CreateAsync("orders", 3)).ErrorCode);
        Assert.Null(_broker.Core.Metadata.Find("orders"));

        _device.Refuses = _ => false;
        Assert.Equal((short)ErrorCode.None, (await CreateAsync("orders", 3)).ErrorCode);
        Assert.Equal((short)ErrorCode.None, await ProduceAsync("orders", 2));
    }

    [Fact]
    public async Task Create_topics_whose_logs_the_disk_refuses_undoes_the_metadata_and_leaves_no_directories()
    {
        // The metadata is written; the third partition's directory is refused.
        _device.Refuses = path => path.EndsWith("/orders-2", StringComparison.Ordinal);

        Assert.Equal((short)ErrorCode.KafkaStorageError, (await CreateAsync("orders", 4)).ErrorCode);
        Assert.Null(_broker.Core.Metadata.Find("orders"));
        Assert.Empty(PartitionDirectories("orders"));

        _device.Refuses = _ => false;
        Restart();
        Assert.Null(_broker.Core.Metadata.Find("orders"));
        Assert.Equal((short)ErrorCode.None, (await CreateAsync("orders", 4)).ErrorCode);
        Assert.Equal((short)ErrorCode.None, await ProduceAsync("orders", 2));
    }

    [Fact]
    public async Task A_creation_whose_undo_the_disk_also_refuses_reports_storage_errors_then_works_once_space_returns()
    {
        var metadataWrites = 0;
        _device.Refuses = path => path.Contains("/orders-", StringComparison.Ordinal) || (IsMetadataWrite(path) && ++metadataWrites > 1);

        Assert.Equal((short)ErrorCode.KafkaStorageError, (await CreateAsync("orders", 2)).ErrorCode);

        // The topic is stored but its logs are not there: each partition is a storage error, not a crash or an unknown partition.
        var metadata = await _broker.SendAsync(new MetadataHandler(_broker.Core), new MetadataRequest { Topics = [new MetadataRequest.MetadataRequestTopic { Name = "orders" }] }, 12);
        Assert.All(Assert.Single(metadata.Topics).Partitions, p =>
        {
            Assert.Equal((short)ErrorCode.KafkaStorageError, p.ErrorCode);
            Assert.Equal([_broker.Core.NodeId], p.OfflineReplicas);
        });
        Assert.Equal((short)ErrorCode.KafkaStorageError, await ProduceAsync("orders", 0));

        _device.Refuses = _ => false;
        Assert.Equal((short)ErrorCode.None, await ProduceAsync("orders", 0));
        Assert.Equal((short)ErrorCode.None, await ProduceAsync("orders", 1));
    }

    [Fact]
    public async Task Create_partitions_whose_logs_the_disk_refuses_adds_none()
    {
        _broker.CreateTopic("orders", 2);
        _device.Refuses = path => path.EndsWith("/orders-3", StringComparison.Ordinal);
        var request = new CreatePartitionsRequest { Topics = [new CreatePartitionsRequest.CreatePartitionsTopic { Name = "orders", Count = 4, Assignments = null }] };

        var response = await _broker.SendAsync(new CreatePartitionsHandler(_broker.Core), request, 3);

        Assert.Equal((short)ErrorCode.KafkaStorageError, Assert.Single(response.Results).ErrorCode);
        Assert.Equal(2, _broker.Topic("orders").PartitionCount);
        Assert.Equal(["orders-0", "orders-1"], PartitionDirectories("orders").Order());
    }

    [Fact]
    public async Task Running_out_of_descriptors_part_way_through_10000_partitions_creates_none_and_restarts()
    {
        // Each partition opens three files (log, offset index, time index): the limit is hit after a thousand.
        _device.OpenFilesMax = _device.OpenFiles + 3_000;

        var result = await CreateAsync("wide", BrokerConfig.PartitionsPerTopicMax);

        Assert.Equal((short)ErrorCode.KafkaStorageError, result.ErrorCode);
        Assert.Null(_broker.Core.Metadata.Find("wide"));
        Assert.Empty(PartitionDirectories("wide"));

        Restart();
        Assert.Null(_broker.Core.Metadata.Find("wide"));
        Assert.Equal((short)ErrorCode.None, (await CreateAsync("narrow", 100)).ErrorCode);
    }

    [Fact]
    public void The_first_internal_log_on_a_full_disk_fails_and_opens_once_space_returns()
    {
        _device.Refuses = IsMetadataWrite;

        Assert.Throws<IOException>(() => _broker.Core.OpenInternalLog("__consumer_offsets", 0));

        _device.Refuses = _ => false;
        var (log, created) = _broker.Core.OpenInternalLog("__consumer_offsets", 0);
        Assert.True(created);
        Assert.Equal(0, log.LogEndOffset);
    }
}
