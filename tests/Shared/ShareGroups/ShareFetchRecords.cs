using Tributary.Protocol.Messages;

namespace Tributary.Tests.Shared.ShareGroups;

/// <summary>What a ShareFetch response delivered: the values of the acquired records among the batches it carries.</summary>
internal static class ShareFetchRecords
{
    /// <summary>The acquired records' values, in offset order per partition; only <paramref name="partition"/>'s when given.</summary>
    public static List<string> Values(ShareFetchResponse response, int? partition = null)
    {
        var values = new List<string>();
        foreach (var data in response.Responses.SelectMany(t => t.Partitions).Where(p => partition is null || p.PartitionIndex == partition))
        {
            for (var rest = data.Records ?? ReadOnlyMemory<byte>.Empty; !rest.IsEmpty;)
            {
                var batch = Protocol.Records.RecordBatch.Read(rest);
                rest = rest[batch.Header.TotalSize..];
                foreach (var record in batch.Records)
                {
                    var offset = batch.Header.BaseOffset + record.OffsetDelta;
                    if (data.AcquiredRecords.Any(r => r.FirstOffset <= offset && offset <= r.LastOffset))
                    {
                        values.Add(System.Text.Encoding.UTF8.GetString(record.Value!.Value.Span));
                    }
                }
            }
        }

        return values;
    }
}
