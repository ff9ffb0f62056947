using Etcdserverpb;
using Google.Protobuf;
using Grpc.Core;
using Tributary.Broker.Cluster;

namespace Tributary.Server.Tests.Cluster;

/// <summary>
/// <see cref="EtcdChannel"/> against a real etcd: after a replacement later calls go on the new channel, and a call
/// still open on the old one ends (its caller retries) instead of hanging on connections a network cut left behind.
/// </summary>
public sealed class EtcdChannelTests(EtcdFixture fixture) : IClassFixture<EtcdFixture>
{
    [Fact]
    public async Task After_a_replacement_calls_go_on_a_new_channel_and_open_calls_on_the_old_one_end()
    {
        using var channel = new EtcdChannel(fixture.Etcd.Endpoints.Split(','));
        var kv = new KV.KVClient(channel);
        var key = ByteString.CopyFromUtf8("/etcd-channel-test/" + Guid.NewGuid().ToString("N"));
        await kv.PutAsync(new PutRequest { Key = key, Value = ByteString.CopyFromUtf8("before") });

        // A watch on the key stays open until its channel goes.
        using var watch = new Watch.WatchClient(channel).Watch();
        await watch.RequestStream.WriteAsync(new WatchRequest { CreateRequest = new WatchCreateRequest { Key = key } });
        Assert.True(await watch.ResponseStream.MoveNext());
        Assert.True(watch.ResponseStream.Current.Created);

        channel.Replace();
        Assert.Equal(1, channel.Replacements);
        await kv.PutAsync(new PutRequest { Key = key, Value = ByteString.CopyFromUtf8("after") });
        var read = await kv.RangeAsync(new RangeRequest { Key = key });
        Assert.Equal("after", read.Kvs[0].Value.ToStringUtf8());

        // The put above may still reach the old watch; after that the watch ends with the old channel, well before
        // the bound (which would also end it, but as a cancellation of this test's own token).
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var ended = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            while (await watch.ResponseStream.MoveNext(bound.Token))
            {
            }
        });
        Assert.False(bound.IsCancellationRequested);
        Assert.Equal(StatusCode.Cancelled, ended.StatusCode);
    }
}
