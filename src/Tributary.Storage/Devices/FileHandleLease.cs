using Microsoft.Win32.SafeHandles;

namespace Tributary.Storage.Devices;

/// <summary>A reference on an open handle of a <see cref="CachedFileHandle"/>: the descriptor stays open until it is disposed.</summary>
internal readonly struct FileHandleLease(SafeFileHandle handle) : IDisposable
{
    public SafeFileHandle Handle { get; } = handle;

    public void Dispose() => Handle.DangerousRelease();
}
