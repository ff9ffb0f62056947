using Tributary.Storage.Devices;

namespace Tributary.Storage.Tests;

/// <summary>
/// Files whose path <paramref name="refuses"/> that, while <see cref="Refuse"/> is set, take the first 5 bytes of an
/// append and then throw as a full disk does; other files are never refused.
/// </summary>
internal sealed class RefusingDevice(ILogDevice inner, Func<string, bool> refuses) : DelegatingDevice(inner)
{
    public volatile bool Refuse;

    public override ILogFile OpenFile(string path) =>
        refuses(path) ? new RefusingFile(base.OpenFile(path), this) : base.OpenFile(path);

    private sealed class RefusingFile(ILogFile inner, RefusingDevice device) : DelegatingFile(inner)
    {
        public override void Append(ReadOnlySpan<byte> data)
        {
            if (!device.Refuse)
            {
                base.Append(data);
                return;
            }

            base.Append(data[..Math.Min(5, data.Length)]);
            throw new IOException("No space left on device");
        }
    }
}
