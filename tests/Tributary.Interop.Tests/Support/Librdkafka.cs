using System.Runtime.InteropServices;
using Confluent.Kafka;

namespace Tributary.Interop.Tests.Support;

/// <summary>
/// Loads librdkafka.redist's native library for Confluent.Kafka. Its default linux-x64 build needs libsasl2.so.3,
/// which Debian 12 does not have; the package's centos8 build of the same version needs nothing missing here.
/// Confluent.Kafka binds its functions to "librdkafka", resolved here to that build, and loads a library by path
/// through "libdl", which glibc ships as libdl.so.2 only.
/// </summary>
public static class Librdkafka
{
    private static readonly Lazy<string> Loaded = new(() =>
    {
        var native = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native");
        var centos8 = Path.Combine(native, "centos8-librdkafka.so");
        NativeLibrary.SetDllImportResolver(typeof(Library).Assembly, (name, _, _) => name switch
        {
            "libdl" => NativeLibrary.TryLoad("libdl.so.2", out var dl) ? dl : IntPtr.Zero,
            _ when name.Contains("librdkafka", StringComparison.Ordinal) && File.Exists(centos8) => NativeLibrary.Load(centos8),
            _ => IntPtr.Zero,
        });
        Library.Load(File.Exists(centos8) ? centos8 : Path.Combine(native, "librdkafka.so"));
        return Library.VersionString;
    });

    /// <summary>Loads the library once; returns librdkafka's version.</summary>
    public static string EnsureLoaded() => Loaded.Value;
}
