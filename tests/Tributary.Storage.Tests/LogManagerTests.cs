using static Tributary.Storage.Tests.RecordBatchBuilder;

namespace Tributary.Storage.Tests;

/// <summary>The data directory as a whole: partitions found on start, created, deleted, reconfigured.</summary>
public sealed class LogManagerTests
{
    [Theory]
    [InlineData(DeviceKind.Memory)]
    [InlineData(DeviceKind.File)]
    public void Every_partition_directory_is_loaded_on_start_including_topics_with_dashes(DeviceKind kind)
    {
        using var target = new StorageTarget(kind);
        using (var manager = target.Open())
        {
            manager.GetOrCreate("a-b-c", 0, LogConfig.Default).Append(Build("x", 1));
            manager.GetOrCreate("a-b-c", 12, LogConfig.Default).Append(Build("y", 2));
            manager.GetOrCreate("plain", 1, LogConfig.Default);
        }

        target.Device.CreateDirectory(Path.Combine(target.DataDirectory, "not a partition"));

        using var reopened = target.Open();

        Assert.Equal(
            ["a-b-c-0", "a-b-c-12", "plain-1"],
            reopened.Logs.Select(l => $"{l.Topic}-{l.Partition}").Order());
        Assert.True(reopened.TryGet("a-b-c", 12, out var log));
        Assert.Equal(2, log.LogEndOffset);
        Assert.False(reopened.TryGet("a-b", 0, out _));
    }

    [Fact]
    public void Get_or_create_returns_the_same_log_and_applies_the_new_config()
    {
        using var manager = LogManager.InMemory();
        var first = manager.GetOrCreate("t", 0, LogConfig.Default);

        var second = manager.GetOrCreate("t", 0, LogConfig.Default with { RetentionMs = 5 });

        Assert.Same(first, second);
        Assert.Equal(5, first.Config.RetentionMs);
        Assert.True(manager.UpdateConfig("t", 0, LogConfig.Default with { RetentionMs = 7 }));
        Assert.Equal(7, first.Config.RetentionMs);
        Assert.False(manager.UpdateConfig("t", 1, LogConfig.Default));
    }

    [Theory]
    [InlineData(DeviceKind.Memory)]
    [InlineData(DeviceKind.File)]
    public void Deleting_a_partition_removes_its_files_and_a_new_one_starts_empty(DeviceKind kind)
    {
        using var target = new StorageTarget(kind);
        using var manager = target.Open();
        var log = manager.GetOrCreate("gone", 0, LogConfig.Default);
        log.Append(Build("x", 3));

        Assert.True(manager.Delete("gone", 0));

        Assert.False(target.Device.DirectoryExists(target.PartitionDirectory("gone", 0)));
        Assert.False(manager.TryGet("gone", 0, out _));
        Assert.Throws<ObjectDisposedException>(() => log.Append(Build("late", 1)));
        Assert.False(manager.Delete("gone", 0));
        Assert.Equal(0, manager.GetOrCreate("gone", 0, LogConfig.Default).LogEndOffset);
    }

    [Theory]
    [InlineData("")]
    [InlineData(".")]
    [InlineData("..")]
    [InlineData("a/b")]
    [InlineData("../escape")]
    [InlineData("sp ace")]
    public void Illegal_topic_names_are_refused_before_touching_the_disk(string topic)
    {
        using var manager = LogManager.InMemory();

        Assert.Throws<ArgumentException>(() => manager.GetOrCreate(topic, 0, LogConfig.Default));
        Assert.Empty(manager.Logs);
    }

    [Fact]
    public void Invalid_configs_are_refused()
    {
        using var manager = LogManager.InMemory();

        Assert.Throws<ArgumentException>(() => manager.GetOrCreate("t", 0, LogConfig.Default with { SegmentBytes = 10 }));
        Assert.Throws<ArgumentException>(() => manager.GetOrCreate("t", 0, LogConfig.Default with { RetentionMs = -2 }));
        Assert.Throws<ArgumentException>(() => manager.GetOrCreate("t", 0, LogConfig.Default with { FlushIntervalMessages = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => manager.GetOrCreate("t", -1, LogConfig.Default));
    }

    [Theory]
    [InlineData("topic-0", "topic", 0)]
    [InlineData("my-topic-17", "my-topic", 17)]
    [InlineData("__consumer_offsets-49", "__consumer_offsets", 49)]
    public void Partition_directories_split_on_the_last_dash(string name, string topic, int partition)
    {
        Assert.True(LogManager.TryParsePartitionDirectory(name, out var parsedTopic, out var parsedPartition));
        Assert.Equal((topic, partition), (parsedTopic, parsedPartition));
    }

    [Theory]
    [InlineData("topic")]
    [InlineData("topic-")]
    [InlineData("-3")]
    [InlineData("topic-3a")]
    [InlineData("topic-+3")]
    [InlineData("topic-x")]
    public void Other_directory_names_are_not_partitions(string name) =>
        Assert.False(LogManager.TryParsePartitionDirectory(name, out _, out _));
}
