using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Tributary.Storage.Devices;

/// <summary>
/// Reserves disk blocks past a file's end before appends reach them (Linux <c>fallocate</c> with
/// <c>FALLOC_FL_KEEP_SIZE</c>, so the file's size is unchanged): an append into reserved blocks skips ext4's
/// per-page delayed-allocation work. A file reserves nothing until it holds <see cref="FileBytesMin"/>, then as much
/// ahead as it holds, up to <see cref="StepBytesMax"/>; the blocks past the end are given back when the segment stops
/// being active or closes (<see cref="ILogFile.Trim"/>). Elsewhere than Linux, appends work without it.
/// </summary>
internal static partial class Preallocation
{
    /// <summary>Bytes a file must hold before it reserves any blocks ahead.</summary>
    public const long FileBytesMin = 1024 * 1024;

    /// <summary>Largest reservation past the end, in bytes: the most disk space an open file holds beyond its data.</summary>
    public const long StepBytesMax = 8 * 1024 * 1024;

    private const int FallocFlKeepSize = 1;

    /// <summary>Reserves blocks for [<paramref name="offset"/>, +<paramref name="length"/>) without changing the size; false if it cannot.</summary>
    public static bool Reserve(SafeFileHandle handle, long offset, long length) =>
        OperatingSystem.IsLinux() && Fallocate(handle, FallocFlKeepSize, offset, length) == 0;

    /// <summary>How far ahead a file that holds <paramref name="length"/> bytes (at least <see cref="FileBytesMin"/>) reserves.</summary>
    public static long StepFor(long length) => Math.Min(length, StepBytesMax);

    // The marshaller holds a reference on the handle for the call (see Writeback.SyncFileRange).
    [LibraryImport("libc", EntryPoint = "fallocate", SetLastError = true)]
    private static partial int Fallocate(SafeFileHandle fd, int mode, long offset, long length);
}
