using Tributary.Storage.Devices;

namespace Tributary.Storage.Tests;

/// <summary>Whether the host takes freed memory back, read from a sysfs tree laid out as Linux lays it out.</summary>
public sealed class HostMemoryTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "tributary-sysfs-tests", Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    [Theory]
    [InlineData("01100101000000000000000000000000100000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000\n", true)]
    [InlineData("000001", true)]
    [InlineData("01100000000000000000000000000000100000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000\n", false)]
    [InlineData("0110", false)]
    [InlineData("", false)]
    public void A_balloon_device_with_free_page_reporting_means_yes(string features, bool expected)
    {
        var device = Path.Combine(_root, "bus", "virtio", "drivers", "virtio_balloon", "virtio0");
        Directory.CreateDirectory(device);
        File.WriteAllText(Path.Combine(device, "features"), features);

        Assert.Equal(expected, HostMemory.ReportsFreedMemory(_root));
    }

    [Fact]
    public void No_balloon_driver_or_no_sysfs_means_no()
    {
        Assert.False(HostMemory.ReportsFreedMemory(_root));
        Directory.CreateDirectory(Path.Combine(_root, "bus", "virtio", "drivers", "virtio_balloon"));
        Assert.False(HostMemory.ReportsFreedMemory(_root));
    }
}
