// A share consumer that dies holding records (issue #33): the interop tests start it as a separate process, read which
// records it holds, and kill it with SIGKILL, so nothing it would do on a clean exit (leave the group, close the share
// session, release its records) happens. It joins the share group, polls until it holds COUNT records, prints one
// line per record ("held PARTITION OFFSET DELIVERY_COUNT") and then "holding", and waits without acknowledging.
// Usage: ShareConsumerProbe BOOTSTRAP GROUP TOPIC COUNT
using System.Globalization;
using Tributary.TestSupport;

if (args.Length != 4 || !int.TryParse(args[3], CultureInfo.InvariantCulture, out var count) || count <= 0)
{
    Console.Error.WriteLine("usage: ShareConsumerProbe BOOTSTRAP GROUP TOPIC COUNT");
    return 2;
}

Librdkafka.EnsureLoaded();
var consumer = new ShareConsumer(args[0], args[1], args[2]);
var held = new List<ShareRecord>();
var deadline = DateTime.UtcNow.AddSeconds(60);
while (held.Count < count && DateTime.UtcNow < deadline)
{
    held.AddRange(consumer.Poll(500));
}

foreach (var record in held)
{
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"held {record.Partition} {record.Offset} {record.DeliveryCount}"));
}

if (held.Count < count)
{
    Console.WriteLine("timeout");
    return 1;
}

// Never acknowledged, never polled again: the records stay locked until the process is killed and the lock expires.
Console.WriteLine("holding");
Console.Out.Flush();
Thread.Sleep(Timeout.Infinite);
GC.KeepAlive(consumer);
return 0;
