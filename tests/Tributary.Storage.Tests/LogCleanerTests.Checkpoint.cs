using Tributary.Storage.Cleaning;

namespace Tributary.Storage.Tests;

// cleaner-offset-checkpoint: a restart resumes cleaning where the last clean stopped instead of at the log start, and a
// damaged checkpoint (or one past a log's end) is logged and the log cleaned from its start.
public sealed partial class LogCleanerTests
{
    [Theory]
    [InlineData(DeviceKind.Memory)]
    [InlineData(DeviceKind.File)]
    public void After_a_restart_the_cleaner_resumes_from_its_checkpoint(DeviceKind kind)
    {
        using var target = new StorageTarget(kind);
        long cleanedUpTo;
        using (var manager = target.Open(Compacted))
        {
            var log = manager.GetOrCreate(Topic, 0, Compacted);
            FillWithOverwrites(log, target);
            var result = new LogCleaner(manager).CleanDirtiest();
            Assert.NotNull(result);
            cleanedUpTo = result.FirstDirtyOffset;
            Assert.True(cleanedUpTo > 0);
        }

        var text = System.Text.Encoding.ASCII.GetString(target.ReadFile(Path.Combine(target.DataDirectory, "cleaner-offset-checkpoint")));
        Assert.Equal($"0\n1\n{Topic} 0 {cleanedUpTo}\n", text);

        using var reopened = target.Open(Compacted);
        Assert.True(reopened.TryGet(Topic, 0, out var again));
        Assert.Equal(cleanedUpTo, again.GetCleanableRange()!.FirstDirtyOffset);

        // Nothing was written since: there is nothing dirty, so nothing is cleaned again.
        Assert.Null(new LogCleaner(reopened).CleanDirtiest());
    }

    [Theory]
    [InlineData("garbage")]
    [InlineData("0\n2\ntable 0 5\n")]
    [InlineData("0\n1\ntable zero 5\n")]
    [InlineData("0\n1\ntable 0 100000\n")]
    public void A_damaged_checkpoint_or_one_past_the_log_end_is_logged_and_the_log_cleaned_from_its_start(string checkpoint)
    {
        using var target = new StorageTarget(DeviceKind.Memory);
        using (var manager = target.Open(Compacted))
        {
            FillWithOverwrites(manager.GetOrCreate(Topic, 0, Compacted), target);
        }

        target.WriteFile(Path.Combine(target.DataDirectory, "cleaner-offset-checkpoint"), System.Text.Encoding.ASCII.GetBytes(checkpoint));
        using var loggers = new CapturingLoggerFactory();
        using var reopened = new LogManager(target.Device, target.DataDirectory, Compacted, target.Time, loggers);
        Assert.True(reopened.TryGet(Topic, 0, out var log));

        Assert.Equal(0, log.GetCleanableRange()!.FirstDirtyOffset);
        Assert.Contains(loggers.Messages, m => m.EventId is 3015 or 3016);
        Assert.NotNull(new LogCleaner(reopened).CleanDirtiest());
    }

    private static void FillWithOverwrites(PartitionLog log, StorageTarget target)
    {
        for (var i = 0; i < 60; i++)
        {
            log.Append(Keyed(target.Time.NowMs, ($"k{i % 5}", $"v{i}")));
        }
    }
}
