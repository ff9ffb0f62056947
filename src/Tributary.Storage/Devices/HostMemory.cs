namespace Tributary.Storage.Devices;

/// <summary>What the machine's host does with the memory this kernel frees.</summary>
public static class HostMemory
{
    // VIRTIO_BALLOON_F_REPORTING: the guest reports free pages and the host reclaims them.
    private const int FreePageReportingBit = 5;

    /// <summary>
    /// Whether this is a virtual machine that reports the memory it frees to its host, which takes it back (a
    /// virtio-balloon device with free page reporting, as Firecracker and QEMU offer). There, every page the page cache
    /// takes anew faults in the host on first touch, so caching a sustained write costs CPU per byte, and dropping
    /// pages no reader needs lets the kernel reuse them instead. Read from sysfs under <paramref name="sysfsRoot"/>:
    /// each device of the virtio_balloon driver has a <c>features</c> file of '0'/'1' characters, one per feature bit.
    /// </summary>
    public static bool ReportsFreedMemory(string sysfsRoot = "/sys")
    {
        var driver = Path.Combine(sysfsRoot, "bus", "virtio", "drivers", "virtio_balloon");
        try
        {
            if (!Directory.Exists(driver))
            {
                return false;
            }

            foreach (var device in Directory.EnumerateDirectories(driver, "virtio*"))
            {
                var features = Path.Combine(device, "features");
                if (File.Exists(features) && File.ReadAllText(features) is { Length: > FreePageReportingBit } bits && bits[FreePageReportingBit] == '1')
                {
                    return true;
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // An unreadable sysfs says nothing: assume the ordinary machine.
        }

        return false;
    }
}
