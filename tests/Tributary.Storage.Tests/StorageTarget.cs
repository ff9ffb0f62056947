using Tributary.Storage.Devices;

namespace Tributary.Storage.Tests;

public enum DeviceKind
{
    Memory,
    File,
}

/// <summary>A data directory on one of the two devices, with a manual clock and helpers to crash and corrupt it.</summary>
public sealed class StorageTarget : IDisposable
{
    public StorageTarget(DeviceKind kind)
    {
        Kind = kind;
        if (kind == DeviceKind.File)
        {
            Device = FileLogDevice.Instance;
            DataDirectory = Path.Combine(Path.GetTempPath(), "tributary-storage-tests", Guid.NewGuid().ToString("N"));
        }
        else
        {
            Device = new MemoryLogDevice();
            DataDirectory = "/data";
        }
    }

    public DeviceKind Kind { get; }

    public ILogDevice Device { get; }

    public string DataDirectory { get; }

    public ManualTimeProvider Time { get; } = new();

    public LogManager Open(LogConfig? defaultConfig = null) => new(Device, DataDirectory, defaultConfig, Time);

    /// <summary>Stops the manager the way kill -9 would: files closed, nothing flushed, no clean-shutdown marker.</summary>
    public static void Crash(LogManager manager)
    {
        foreach (var log in manager.Logs)
        {
            log.Dispose();
        }
    }

    public string PartitionDirectory(string topic, int partition) => Path.Combine(DataDirectory, $"{topic}-{partition}");

    public string SegmentFile(string topic, int partition, long baseOffset, string suffix) =>
        Path.Combine(PartitionDirectory(topic, partition), $"{baseOffset:D20}{suffix}");

    public byte[] ReadFile(string path)
    {
        using var file = Device.OpenFile(path);
        var bytes = new byte[file.Length];
        Assert.Equal(bytes.Length, file.ReadAt(0, bytes));
        return bytes;
    }

    public void WriteFile(string path, byte[] bytes)
    {
        using var file = Device.OpenFile(path);
        file.Truncate(0);
        file.Append(bytes);
    }

    public void TruncateFile(string path, long length)
    {
        using var file = Device.OpenFile(path);
        file.Truncate(length);
    }

    public void Dispose()
    {
        if (Kind == DeviceKind.File && Directory.Exists(DataDirectory))
        {
            Directory.Delete(DataDirectory, recursive: true);
        }
    }
}
