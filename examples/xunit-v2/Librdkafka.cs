using System.Runtime.InteropServices;
using Confluent.Kafka;

// librdkafka.redist's default linux-x64 library needs libsasl2.so.3, which Debian 12 lacks ("DllNotFoundException:
// librdkafka"); the package's centos8 build of the same version needs nothing missing there. Confluent.Kafka
// binds its functions to "librdkafka" (resolved here to that build) and loads it by path through "libdl", which
// newer glibc ships as libdl.so.2 only. Elsewhere (Windows, macOS) this loads the package's default library.
public static class Librdkafka
{
    private static readonly Lazy<string> Loaded = new(() =>
    {
        if (!OperatingSystem.IsLinux())
        {
            return Library.VersionString;
        }

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

    /// <summary>Loads librdkafka once, before the first producer or consumer is built; returns its version.</summary>
    public static string EnsureLoaded() => Loaded.Value;
}
