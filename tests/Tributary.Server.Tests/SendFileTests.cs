using System.Buffers;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Win32.SafeHandles;
using Tributary.Protocol;
using Tributary.Server.Networking;

namespace Tributary.Server.Tests;

/// <summary>
/// File ranges in a <see cref="SocketConnection"/>'s output, sent with sendfile(2), over real loopback sockets and real
/// files: their place among the pipe's bytes, files closed by their owner before the send, and the output limit.
/// </summary>
public sealed class SendFileTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("tributary-sendfile-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Theory]
    [InlineData(true)]
    [InlineData(false)] // the path taken once sendfile refuses a file: read and sent the ordinary way
    public async Task RangesPlacedBetweenPipeBytesReachTheClientInPlaceIncludingOneThatEndsTheOutput(bool sendFile)
    {
        var content = FileBytes(3 * 1024 * 1024 + 17);
        using var file = WriteFile("data", content);
        var (connection, client) = await LoopbackConnection.ConnectAsync(SocketTransportLimits.Default);
        connection.SendFileEnabled = sendFile;
        await using (connection)
        using (client)
        {
            var output = connection.Transport.Output;
            var ranges = Assert.IsAssignableFrom<IFileRangeWriter>(output);
            var expected = new List<byte>();
            Write(output, expected, "head");
            Assert.True(ranges.TryWriteFileRange(file, 0, 1024 * 1024));
            expected.AddRange(content.AsSpan(0, 1024 * 1024));
            Write(output, expected, "middle");
            Assert.True(ranges.TryWriteFileRange(file, 1024 * 1024, 100));
            Assert.True(ranges.TryWriteFileRange(file, 1024 * 1024 + 100, content.Length - 1024 * 1024 - 100)); // two in a row, then the end
            expected.AddRange(content.AsSpan(1024 * 1024));
            await output.FlushAsync();

            Assert.Equal(expected.ToArray(), await ReadExactlyAsync(client, expected.Count));

            // The pieces around ranges go out corked (TCP_CORK): once all is sent, the cork is off again, or a
            // response's last partial segment would wait for the kernel's 200 ms cork timer.
            Assert.False(connection.Corked);

            // Pipe bytes after the last range, the shape of a fetch response's trailing fields.
            expected.Clear();
            Assert.True(ranges.TryWriteFileRange(file, 0, 100));
            expected.AddRange(content.AsSpan(0, 100));
            Write(output, expected, "tail");
            await output.FlushAsync();
            Assert.Equal(expected.ToArray(), await ReadExactlyAsync(client, expected.Count));
            Assert.False(connection.Corked);
        }
    }

    [Fact]
    public async Task ARangeOfAFileItsOwnerClosedAfterPlacingItIsStillSentAndAClosedFileIsRefused()
    {
        var content = FileBytes(2 * 1024 * 1024);
        var file = WriteFile("deleted", content);
        var (connection, client) = await LoopbackConnection.ConnectAsync(SocketTransportLimits.Default);
        await using (connection)
        using (client)
        {
            var ranges = (IFileRangeWriter)connection.Transport.Output;
            Assert.True(ranges.TryWriteFileRange(file, 0, content.Length));

            // As retention does to a segment: the file is deleted and its handle disposed before the send loop runs.
            File.Delete(Path.Combine(_directory, "deleted"));
            file.Dispose();
            await connection.Transport.Output.FlushAsync();
            Assert.Equal(content, await ReadExactlyAsync(client, content.Length));

            // A handle closed before the range is placed is refused, so the caller copies (and learns it is gone).
            Assert.False(ranges.TryWriteFileRange(file, 0, 10));
        }
    }

    [Fact]
    public async Task QueuedFileBytesPastTheOutputLimitHoldTheFlushUntilTheClientReadsAndAResetReleasesIt()
    {
        var content = FileBytes(8 * 1024 * 1024);
        using var file = WriteFile("big", content);
        var limits = SocketTransportLimits.Default with { OutputBufferBytesMax = 256 * 1024 };
        var (connection, client) = await LoopbackConnection.ConnectAsync(limits);
        await using (connection)
        using (client)
        {
            var output = connection.Transport.Output;
            var ranges = (IFileRangeWriter)output;
            for (var i = 0; i < 6; i++)
            {
                Assert.True(ranges.TryWriteFileRange(file, 0, content.Length)); // 48 MiB, more than loopback's socket buffers hold
            }

            // Flushed from a thread other than the connection's own, as a woken fetch's answer is: the send waits for
            // room asynchronously, so the flush returns at once, not completed, and this thread is not held.
            var flush = output.FlushAsync().AsTask();
            await Task.Delay(500);
            Assert.False(flush.IsCompleted); // the client has read nothing: the handler waits, nothing more is queued

            var received = await ReadExactlyAsync(client, 6 * content.Length);
            var result = await flush.WaitAsync(TimeSpan.FromSeconds(30));
            Assert.False(result.IsCompleted);
            for (var i = 0; i < 6; i++)
            {
                Assert.True(received.AsSpan(i * content.Length, content.Length).SequenceEqual(content));
            }

            // Queued again, then the client resets: the waiting flush ends, reporting the output completed.
            for (var i = 0; i < 6; i++)
            {
                Assert.True(ranges.TryWriteFileRange(file, 0, content.Length));
            }

            var stuck = output.FlushAsync().AsTask();
            client.LingerState = new LingerOption(true, 0);
            client.Close();
            Assert.True((await stuck.WaitAsync(TimeSpan.FromSeconds(30))).IsCompleted);
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)] // the same bytes in the pipe: gathering sends of its blocks
    public async Task OnTheConnectionsOwnThreadAFlushReturnsOnlyOnceTheSocketHasTakenEverythingWaitingForRoomAsTheClientReads(bool asFileRange)
    {
        var content = FileBytes(32 * 1024 * 1024); // more than loopback's socket buffers hold: the send has to wait
        using var file = WriteFile("own", content);
        var (connection, client) = await LoopbackConnection.ConnectAsync(SocketTransportLimits.Default);
        await using (connection)
        using (client)
        {
            // As the handler does: wait for a request, whose arrival runs the rest inline on the connection's thread.
            var served = ServeOneAsync(connection, asFileRange ? file : null, content);
            var received = Task.Run(() => ReadExactlyAsync(client, 2 + content.Length));
            client.Send([1]);
            var (thread, flushedAtOnce, outputCompleted) = await served.WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal("tributary-connection", thread);
            Assert.True(flushedAtOnce); // everything was sent before the flush returned
            Assert.False(outputCompleted);

            var bytes = await received;
            Assert.Equal("ok"u8.ToArray(), bytes[..2]);
            Assert.True(bytes.AsSpan(2).SequenceEqual(content));
        }
    }

    /// <summary>Answers one request with "ok" and <paramref name="content"/>, from <paramref name="file"/> as a range when given.</summary>
    private static async Task<(string? Thread, bool FlushedAtOnce, bool OutputCompleted)> ServeOneAsync(SocketConnection connection, SafeFileHandle? file, byte[] content)
    {
        var input = connection.Transport.Input;
        var read = await input.ReadAsync().ConfigureAwait(false); // resumes inline on the thread that flushed the input
        var thread = Thread.CurrentThread.Name;
        input.AdvanceTo(read.Buffer.End);
        var output = connection.Transport.Output;
        output.Write("ok"u8);
        if (file is null)
        {
            output.Write(content);
        }
        else
        {
            Assert.True(((IFileRangeWriter)output).TryWriteFileRange(file, 0, content.Length));
        }

        var flush = output.FlushAsync();
        var flushedAtOnce = flush.IsCompleted;
        return (thread, flushedAtOnce, (await flush.ConfigureAwait(false)).IsCompleted);
    }

    private static byte[] FileBytes(int length)
    {
        var bytes = new byte[length];
        new Random(length).NextBytes(bytes);
        return bytes;
    }

    private SafeFileHandle WriteFile(string name, byte[] content)
    {
        var path = Path.Combine(_directory, name);
        File.WriteAllBytes(path, content);
        return File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
    }

    private static void Write(System.IO.Pipelines.PipeWriter output, List<byte> expected, string text)
    {
        var bytes = System.Text.Encoding.ASCII.GetBytes(text);
        output.Write(bytes);
        expected.AddRange(bytes);
    }

    private static async Task<byte[]> ReadExactlyAsync(Socket client, int count)
    {
        var buffer = new byte[count];
        await using var stream = new NetworkStream(client, ownsSocket: false);
        await stream.ReadExactlyAsync(buffer).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
        return buffer;
    }
}
