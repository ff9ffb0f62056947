using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Tributary.Storage.Cleaning;
using Tributary.Storage.Devices;

namespace Tributary.Storage;

/// <summary>
/// Owns a data directory: one <see cref="PartitionLog"/> per <c>&lt;topic&gt;-&lt;partition&gt;</c> directory in it,
/// loaded when the manager is created. Disposing flushes and closes every log, writes each one's recovery point, then
/// the clean-shutdown marker, which lets the next start trust the indexes instead of scanning the logs.
/// </summary>
public sealed class LogManager : IDisposable
{
    /// <summary>Present only between a clean close and the next start; its absence at start means a crash.</summary>
    public const string CleanShutdownFileName = ".tributary-clean-shutdown";

    /// <summary>Kafka's file of each partition's recovery point (<see cref="PartitionLog.RecoveryPoint"/>).</summary>
    public const string RecoveryPointCheckpointFileName = "recovery-point-offset-checkpoint";

    /// <summary>Kafka's limit on topic name length.</summary>
    public const int TopicNameLengthMax = 249;

    /// <summary>Kafka's suffix of a deleted partition's directory while it waits out file.delete.delay.ms.</summary>
    public const string DeleteDirectorySuffix = "-delete";

    /// <summary>Longest directory name a file system takes; a <c>-delete</c> name cuts the topic name to fit (as Kafka does).</summary>
    private const int DirectoryNameLengthMax = 255;

    /// <summary>Logs a clean close flushes and closes at once.</summary>
    private const int CloseThreadsMax = 16;

    private readonly ILogDevice _device;
    private readonly TimeProvider _time;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<(string Topic, int Partition), PartitionLog> _logs = new();

    // Partitions whose stored state could not be opened at start (or by the broker's own checks), with the reason.
    private readonly ConcurrentDictionary<(string Topic, int Partition), string> _offline = new();
    private readonly Lock _createLock = new();
    private readonly Lock _cleanerCheckpointLock = new();
    private readonly Lock _recoveryPointCheckpointLock = new();
    private readonly PendingDeletions _deletions;
    private bool _disposed;

    public LogManager(
        ILogDevice device,
        string dataDirectory,
        LogConfig? defaultConfig = null,
        TimeProvider? time = null,
        ILoggerFactory? loggerFactory = null)
    {
        _device = device;
        DataDirectory = dataDirectory;
        DefaultConfig = defaultConfig ?? LogConfig.Default;
        DefaultConfig.Validate();
        _time = time ?? TimeProvider.System;
        _loggerFactory = loggerFactory ?? NullLoggerFactory.Instance;
        _logger = _loggerFactory.CreateLogger<LogManager>();
        _deletions = new PendingDeletions(_time, _logger);
        try
        {
            Load();
        }
        catch
        {
            foreach (var log in _logs.Values)
            {
                log.Dispose();
            }

            _deletions.Dispose();
            throw;
        }
    }

    public string DataDirectory { get; }

    /// <summary>The config of partitions loaded from disk until the broker sets theirs with <see cref="UpdateConfig"/>.</summary>
    public LogConfig DefaultConfig { get; }

    /// <summary>True when the previous run closed cleanly, so logs were loaded without recovery scans.</summary>
    public bool LoadedAfterCleanShutdown { get; private set; }

    public IReadOnlyCollection<PartitionLog> Logs => _logs.Values.ToArray();

    /// <summary>Segments and partition directories waiting out file.delete.delay.ms (at most <see cref="PendingDeletions.EntriesMax"/>).</summary>
    public int PendingDeletionCount => _deletions.Count;

    /// <summary>An in-memory data directory, for tests and the embeddable broker.</summary>
    public static LogManager InMemory(LogConfig? defaultConfig = null, TimeProvider? time = null, ILoggerFactory? loggerFactory = null) =>
        new(new MemoryLogDevice(), "/data", defaultConfig, time, loggerFactory);

    /// <summary>
    /// The log of <paramref name="topic"/>-<paramref name="partition"/>, created empty when missing. An existing log
    /// takes <paramref name="config"/> as its config, so the caller's config is the one in force.
    /// </summary>
    public PartitionLog GetOrCreate(string topic, int partition, LogConfig config)
    {
        ValidateTopicPartition(topic, partition);
        config.Validate();
        if (_offline.TryGetValue((topic, partition), out var reason))
        {
            throw new IOException($"partition {topic}-{partition} is offline: {reason}");
        }

        if (_logs.TryGetValue((topic, partition), out var existing))
        {
            existing.UpdateConfig(config);
            return existing;
        }

        lock (_createLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_logs.TryGetValue((topic, partition), out existing))
            {
                existing.UpdateConfig(config);
                return existing;
            }

            // A directory that already exists here was not loaded at start (it appeared since): recover it rather than trust it.
            var directory = PartitionDirectory(topic, partition);
            var log = PartitionLog.Open(
                _device, directory, topic, partition, config, _time, cleanShutdown: !_device.DirectoryExists(directory), PartitionLogger(), deletions: _deletions);
            _logs[(topic, partition)] = log;
            return log;
        }
    }

    public bool TryGet(string topic, int partition, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out PartitionLog? log) =>
        _logs.TryGetValue((topic, partition), out log);

    /// <summary>
    /// True when the partition was taken offline (<see cref="TakeOffline"/>, or its directory failed to load): it has no
    /// log, and <see cref="GetOrCreate"/> refuses it, until a restart or <see cref="Delete"/>.
    /// </summary>
    public bool IsOffline(string topic, int partition) => _offline.ContainsKey((topic, partition));

    /// <summary>Closes the partition's log if it has one (its files stay) and marks it offline; logs why.</summary>
    public void TakeOffline(string topic, int partition, Exception reason)
    {
        lock (_createLock)
        {
            if (_logs.TryRemove((topic, partition), out var log))
            {
                log.Dispose();
            }

            _offline[(topic, partition)] = reason.Message;
            StorageLog.PartitionOffline(_logger, reason, topic, partition, reason.Message);
        }
    }

    /// <summary>
    /// Closes the log and removes its directory: renamed <c>&lt;topic&gt;-&lt;partition&gt;.&lt;id&gt;-delete</c> at once
    /// (so the partition can be created again meanwhile) and removed after the log's <c>file.delete.delay.ms</c>, as
    /// Kafka does; with <paramref name="removeAtOnce"/> (files that never held a live partition: an undone create, what a
    /// refused deletion left) removed now. Returns false when there is no such log; a directory of that name is removed
    /// all the same (left by a log that failed to open), and an offline partition is forgotten.
    /// </summary>
    public bool Delete(string topic, int partition, bool removeAtOnce = false)
    {
        lock (_createLock)
        {
            _offline.TryRemove((topic, partition), out _);
            if (!_logs.TryRemove((topic, partition), out var log))
            {
                if (IsValidTopicName(topic) && partition >= 0 && _device.DirectoryExists(PartitionDirectory(topic, partition)))
                {
                    DeleteDirectoryLater(topic, partition, removeAtOnce ? 0 : DefaultConfig.FileDeleteDelayMs);
                }

                return false;
            }

            log.DeleteFiles(l => DeleteDirectoryLater(l.Topic, l.Partition, removeAtOnce ? 0 : l.Config.FileDeleteDelayMs));
            return true;
        }
    }

    /// <summary>Returns false when there is no such log.</summary>
    public bool UpdateConfig(string topic, int partition, LogConfig config)
    {
        if (!_logs.TryGetValue((topic, partition), out var log))
        {
            return false;
        }

        log.UpdateConfig(config);
        return true;
    }

    /// <summary>Applies retention.ms and retention.bytes to every log; returns how many segments were deleted.</summary>
    public int RunRetention() => _logs.Values.Sum(log => log.ApplyRetention());

    /// <summary>Flushes the logs whose flush.ms has elapsed; the broker calls this periodically.</summary>
    public void FlushIfDue()
    {
        foreach (var log in _logs.Values)
        {
            log.FlushIfDue();
        }
    }

    /// <summary>
    /// Flushes the segments each log rolled past since the last time, then writes every log's recovery point to
    /// recovery-point-offset-checkpoint (Kafka's log.flush.offset.checkpoint.interval.ms task; the broker calls it
    /// periodically). A failure is logged: the previous checkpoint stays, and at worst a crash recovers more.
    /// </summary>
    public void CheckpointRecoveryPoints()
    {
        lock (_recoveryPointCheckpointLock)
        {
            try
            {
                foreach (var log in _logs.Values)
                {
                    log.FlushRolledSegments();
                }

                WriteRecoveryPoints(_logs.Values.Select(log => (log.Topic, log.Partition, log.RecoveryPoint)).ToList());
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                StorageLog.RecoveryPointCheckpointWriteFailed(_logger, e, DataDirectory);
            }
        }
    }

    /// <summary>
    /// Flushes and closes every log, then writes the clean-shutdown marker. A log whose flush the disk refuses is
    /// closed all the same, logged, and the others are still flushed and closed; then no marker is written (the next
    /// start recovers) and the first failure is thrown.
    /// </summary>
    public void Dispose()
    {
        lock (_createLock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            Exception? firstFailure = null;

            // A clean close fsyncs each written partition's files. Made concurrently, the fsyncs share the file system's
            // journal commits: 3,000 written partitions took 35 s one after another here, 3 s this way.
            Parallel.ForEach(_logs.Values, new ParallelOptions { MaxDegreeOfParallelism = CloseThreadsMax }, log =>
            {
                try
                {
                    log.Close();
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    StorageLog.CloseFailed(_logger, e, log.Topic, log.Partition);
                    Interlocked.CompareExchange(ref firstFailure, e, null);
                }
            });

            var recoveryPoints = _logs.Values.Select(log => (log.Topic, log.Partition, log.RecoveryPoint)).ToList();
            _logs.Clear();

            // No reader is left: what waits out its delay goes now rather than at the next start.
            _deletions.Dispose();
            if (firstFailure is not null)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(firstFailure);
            }

            lock (_recoveryPointCheckpointLock)
            {
                WriteRecoveryPoints(recoveryPoints);
            }

            using var marker = _device.OpenFile(Path.Combine(DataDirectory, CleanShutdownFileName));
            marker.Flush();
        }
    }

    /// <summary>
    /// Writes where each log's next clean starts to cleaner-offset-checkpoint (the cleaner calls it after each clean).
    /// A failed write is logged: the previous checkpoint stays, and at worst a restart cleans part of a log again.
    /// </summary>
    public void WriteCleanerCheckpoint()
    {
        lock (_cleanerCheckpointLock)
        {
            var entries = _logs.Values.Where(log => log.FirstDirtyOffset > 0).Select(log => (log.Topic, log.Partition, log.FirstDirtyOffset)).ToList();
            try
            {
                CleanerOffsetCheckpoint.Write(_device, DataDirectory, entries);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                StorageLog.CleanerCheckpointWriteFailed(_logger, e, DataDirectory);
            }
        }
    }

    /// <summary>
    /// Splits a directory name into topic and partition on the last '-' (topic names may contain '-').
    /// </summary>
    internal static bool TryParsePartitionDirectory(string name, out string topic, out int partition)
    {
        topic = "";
        partition = -1;
        var dash = name.LastIndexOf('-');
        if (dash <= 0 || !int.TryParse(name.AsSpan(dash + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out partition))
        {
            return false;
        }

        topic = name[..dash];
        return IsValidTopicName(topic);
    }

    /// <summary>Kafka's rule: 1 to 249 of [a-zA-Z0-9._-], and not "." or "..". It also keeps names safe as directory names.</summary>
    internal static bool IsValidTopicName(string topic) =>
        topic.Length is > 0 and <= TopicNameLengthMax
        && topic is not "." and not ".."
        && topic.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-');

    private static void ValidateTopicPartition(string topic, int partition)
    {
        if (!IsValidTopicName(topic))
        {
            throw new ArgumentException($"'{topic}' is not a legal topic name", nameof(topic));
        }

        ArgumentOutOfRangeException.ThrowIfNegative(partition);
    }

    private string PartitionDirectory(string topic, int partition) =>
        Path.Combine(DataDirectory, string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{topic}-{partition}"));

    /// <summary>
    /// Kafka's name of a deleted partition's directory: <c>&lt;topic&gt;-&lt;partition&gt;.&lt;32 hex digits&gt;-delete</c>, the
    /// topic cut so that the name fits <see cref="DirectoryNameLengthMax"/>. Never a name <see cref="TryParsePartitionDirectory"/>
    /// takes, which must end in the partition number.
    /// </summary>
    internal static string DeleteDirectoryName(string topic, int partition)
    {
        var suffix = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"-{partition}.{Guid.NewGuid():N}{DeleteDirectorySuffix}");
        return topic[..Math.Min(topic.Length, DirectoryNameLengthMax - suffix.Length)] + suffix;
    }

    /// <summary>True for a name <see cref="DeleteDirectoryName"/> makes.</summary>
    internal static bool IsDeleteDirectoryName(string name)
    {
        if (!name.EndsWith(DeleteDirectorySuffix, StringComparison.Ordinal))
        {
            return false;
        }

        var id = name.AsSpan(0, name.Length - DeleteDirectorySuffix.Length);
        var dot = id.LastIndexOf('.');
        return dot > 0 && id.Length - dot - 1 == 32 && !id[(dot + 1)..].ContainsAnyExcept("0123456789abcdef");
    }

    /// <summary>Caller holds the create lock and has closed the partition's log.</summary>
    private void DeleteDirectoryLater(string topic, int partition, long delayMs)
    {
        var directory = PartitionDirectory(topic, partition);
        if (delayMs == 0)
        {
            _device.DeleteDirectory(directory);
            return;
        }

        var renamed = Path.Combine(DataDirectory, DeleteDirectoryName(topic, partition));
        try
        {
            _device.MoveDirectory(directory, renamed);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            StorageLog.PartitionDirectoryRenameFailed(_logger, e, topic, partition);
            _device.DeleteDirectory(directory);
            return;
        }

        StorageLog.PartitionDirectoryRenamed(_logger, topic, partition, Path.GetFileName(renamed), delayMs);
        _deletions.Schedule(renamed, delayMs, () => _device.DeleteDirectory(renamed));
    }

    /// <summary>
    /// Gives each loaded log its checkpointed first dirty offset. A missing, unreadable or damaged file is logged and
    /// the logs are cleaned from their start, as before any checkpoint existed.
    /// </summary>
    private void RestoreCleanerCheckpoint()
    {
        Dictionary<(string Topic, int Partition), long>? entries;
        string? problem;
        try
        {
            entries = CleanerOffsetCheckpoint.Read(_device, DataDirectory, out problem);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            (entries, problem) = (null, e.Message);
        }

        if (entries is null)
        {
            StorageLog.CleanerCheckpointUnreadable(_logger, DataDirectory, problem ?? "");
            return;
        }

        foreach (var ((topic, partition), offset) in entries)
        {
            if (_logs.TryGetValue((topic, partition), out var log) && !log.RestoreFirstDirtyOffset(offset))
            {
                StorageLog.CleanerCheckpointPastLogEnd(_logger, topic, partition, offset, log.LogEndOffset);
            }
        }
    }

    private ILogger PartitionLogger() => _loggerFactory.CreateLogger<PartitionLog>();

    private void WriteRecoveryPoints(List<(string Topic, int Partition, long Offset)> entries) =>
        PartitionOffsetCheckpoint.Write(_device, Path.Combine(DataDirectory, RecoveryPointCheckpointFileName), entries);

    /// <summary>The checkpointed recovery points; empty (every segment recovered after a crash) when unreadable.</summary>
    private Dictionary<(string Topic, int Partition), long> ReadRecoveryPoints()
    {
        Dictionary<(string Topic, int Partition), long>? entries;
        string? problem;
        try
        {
            entries = PartitionOffsetCheckpoint.Read(_device, Path.Combine(DataDirectory, RecoveryPointCheckpointFileName), out problem);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            (entries, problem) = (null, e.Message);
        }

        if (entries is null)
        {
            StorageLog.RecoveryPointCheckpointUnreadable(_logger, DataDirectory, problem ?? "");
        }

        return entries ?? [];
    }

    private void Load()
    {
        _device.CreateDirectory(DataDirectory);
        var markerPath = Path.Combine(DataDirectory, CleanShutdownFileName);
        LoadedAfterCleanShutdown = _device.FileExists(markerPath);
        var recoveryPoints = LoadedAfterCleanShutdown ? [] : ReadRecoveryPoints();
        foreach (var name in _device.ListDirectories(DataDirectory))
        {
            if (IsDeleteDirectoryName(name))
            {
                // A deleted partition that waited out file.delete.delay.ms when the broker stopped: never live data.
                _device.DeleteDirectory(Path.Combine(DataDirectory, name));
                StorageLog.RemovedDeletedDirectory(_logger, name);
                continue;
            }

            if (!TryParsePartitionDirectory(name, out var topic, out var partition))
            {
                StorageLog.IgnoredDirectory(_logger, name);
                continue;
            }

            // A partition that cannot be opened (damaged beyond recovery, unreadable, out of descriptors) is offline,
            // not a reason for the whole broker not to start.
            try
            {
                _logs[(topic, partition)] = PartitionLog.Open(
                    _device,
                    Path.Combine(DataDirectory, name),
                    topic,
                    partition,
                    DefaultConfig,
                    _time,
                    LoadedAfterCleanShutdown,
                    PartitionLogger(),
                    recoveryPoints.TryGetValue((topic, partition), out var recoveryPoint) ? recoveryPoint : null,
                    _deletions);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException or ArgumentException)
            {
                _offline[(topic, partition)] = e.Message;
                StorageLog.PartitionOffline(_logger, e, topic, partition, e.Message);
            }
        }

        RestoreCleanerCheckpoint();

        // From here on a crash must be detected at the next start. (Without an fsync of the directory a power loss
        // could bring the marker back; Kafka accepts the same window.)
        _device.DeleteFile(markerPath);
        StorageLog.LoadedPartitions(_logger, _logs.Count, DataDirectory, _logs.Count == 0 ? "no previous" : LoadedAfterCleanShutdown ? "a clean" : "an unclean");
    }
}
