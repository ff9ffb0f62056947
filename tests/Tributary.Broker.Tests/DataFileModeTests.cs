using Tributary.Protocol.Records;

namespace Tributary.Broker.Tests;

/// <summary>What the broker stores is readable by its own user only: 0700 directories, 0600 files.</summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class DataFileModeTests : IDisposable
{
    private const UnixFileMode GroupOrOthers =
        UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute
        | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    private readonly string _root = Path.Combine(Path.GetTempPath(), "tributary-file-mode-tests", Guid.NewGuid().ToString("N"));

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void Every_directory_and_file_the_broker_creates_is_private_to_its_user()
    {
        var data = Path.Combine(_root, "data");
        using (var broker = TestBroker.OnDisk(data))
        {
            // Metadata, a partition's segment and indexes, its log start checkpoint, an internal topic, producer ids.
            var topic = broker.CreateTopic("orders");
            var log = broker.Core.FindLog(topic, 0)!;
            var builder = new RecordBatchBuilder();
            builder.Add(1_000, "k"u8.ToArray(), "v"u8.ToArray());
            log.Append(builder.Build());
            log.DeleteRecordsBefore(1);
            broker.Core.OpenInternalLog("__consumer_offsets", 0);
            broker.Core.Transactions.InitProducerId(null, 60_000, -1, -1, fencedErrorSupported: true);
        }

        // The clean-shutdown marker is written at close.
        var entries = Directory.GetFileSystemEntries(data, "*", SearchOption.AllDirectories).Prepend(data).ToList();
        Assert.Contains(entries, e => e.EndsWith(".log", StringComparison.Ordinal));
        Assert.Contains(entries, e => e.EndsWith("producer-id-block.checkpoint", StringComparison.Ordinal));
        Assert.Contains(entries, e => e.EndsWith("log-start-offset.checkpoint", StringComparison.Ordinal));
        Assert.All(entries, entry => Assert.True(
            (File.GetUnixFileMode(entry) & GroupOrOthers) == 0,
            $"{entry} is {File.GetUnixFileMode(entry)}"));
    }
}
