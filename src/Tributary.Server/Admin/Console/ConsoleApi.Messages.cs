using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;
using Tributary.Broker.Dispatch;
using Tributary.Broker.Security.Authorization;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using Tributary.Protocol.Records;
using ConnectionInfo = Tributary.Broker.Dispatch.ConnectionInfo;

namespace Tributary.Server.Admin.Console;

/// <summary>The message browser, the search and producing from the page.</summary>
internal sealed partial class ConsoleApi
{
    /// <summary>
    /// GET topics/{topic}/messages?partition=&amp;offset=|timestamp=&amp;limit=&amp;order=newest|oldest. Newest first
    /// lists the records at and before the position (default: the newest); oldest first those at and after it (default:
    /// the oldest). A timestamp positions at the first record at or after it; newest first then lists the ones before.
    /// </summary>
    public async Task MessagesAsync(HttpContext http)
    {
        if (await CallerAsync(http).ConfigureAwait(false) is not { } caller || await TopicOrErrorAsync(http, caller, AclOperation.Read).ConfigureAwait(false) is not { } topic)
        {
            return;
        }

        var (partition, partitionError) = QueryLong(http, "partition", 0, topic.PartitionCount - 1);
        var (offset, offsetError) = QueryLong(http, "offset", 0, long.MaxValue);
        var (timestamp, timestampError) = QueryLong(http, "timestamp", 0, long.MaxValue);
        var (limit, limitError) = QueryLong(http, "limit", 1, Options.BrowseRecordsMax);
        var order = http.Request.Query["order"].ToString();
        var error = partitionError ?? offsetError ?? timestampError ?? limitError
            ?? (order is "" or "newest" or "oldest" ? null : $"order must be newest or oldest, not \"{order}\"")
            ?? (offset is not null && timestamp is not null ? "give offset or timestamp, not both" : null);
        if (error is not null)
        {
            await ErrorAsync(http, 400, error).ConfigureAwait(false);
            return;
        }

        var p = (int)(partition ?? 0);
        if (!Core.Logs.TryGet(topic.Name, p, out var log))
        {
            await ErrorAsync(http, 503, $"partition {p} of {topic.Name} is offline").ConfigureAwait(false);
            return;
        }

        var newestFirst = order != "oldest";
        var count = (int)(limit ?? 50);
        var start = log.LogStartOffset;
        var end = log.HighWatermark;
        long? position = offset;
        if (timestamp is { } ts)
        {
            var at = log.FirstOffsetAtOrAfterTimestamp(ts) ?? end;
            position = newestFirst ? at - 1 : at;
        }

        var messages = new List<MessageBody>(Math.Min(count, 64));
        if (newestFirst)
        {
            var last = Math.Min(position ?? end - 1, end - 1);
            var first = Math.Max(start, last - count + 1);
            await LogScanner.ScanAsync(log, first, last + 1, r => Keep(r, timestamp is null || r.TimestampMs < timestamp), http.RequestAborted).ConfigureAwait(false);
            messages.Reverse();
            if (messages.Count > count)
            {
                messages.RemoveRange(count, messages.Count - count);
            }
        }
        else
        {
            await LogScanner.ScanAsync(log, Math.Max(start, position ?? start), end, r => Keep(r, timestamp is null || r.TimestampMs >= timestamp) && messages.Count < count, http.RequestAborted).ConfigureAwait(false);
        }

        await WriteAsync(http, 200, new MessagesBody(topic.Name, p, start, end, messages), ConsoleJsonContext.Default.MessagesBody).ConfigureAwait(false);

        bool Keep(ScannedRecord record, bool wanted)
        {
            if (wanted)
            {
                messages.Add(Payloads.Message(p, record));
            }

            return true;
        }
    }

    /// <summary>POST topics/{topic}/messages: one record through the broker's Produce handler (acks=-1), as the caller.</summary>
    public async Task ProduceAsync(HttpContext http)
    {
        if (await CallerAsync(http).ConfigureAwait(false) is not { } caller
            || await ReadAsync(http, ConsoleJsonContext.Default.ProduceInput).ConfigureAwait(false) is not { } input)
        {
            return;
        }

        var name = Route(http, "topic");
        if (Core.Metadata.Find(name) is not { } topic)
        {
            await ErrorAsync(http, 404, $"no topic {name}").ConfigureAwait(false);
            return;
        }

        var partition = input.Partition ?? 0;
        if (partition < 0 || partition >= topic.PartitionCount)
        {
            await ErrorAsync(http, 400, $"partition must be between 0 and {topic.PartitionCount - 1}").ConfigureAwait(false);
            return;
        }

        if (input.Headers?.Any(h => string.IsNullOrEmpty(h.Key)) == true)
        {
            await ErrorAsync(http, 400, "every header needs a key").ConfigureAwait(false);
            return;
        }

        var headers = input.Headers?.Select(h => (h.Key, h.Value is null ? null : Encoding.UTF8.GetBytes(h.Value))).ToList();
        var batch = new RecordBatchBuilder()
            .Add(Time.GetUtcNow().ToUnixTimeMilliseconds(), input.Key is null ? null : Encoding.UTF8.GetBytes(input.Key), input.Value is null ? null : Encoding.UTF8.GetBytes(input.Value), headers)
            .Build();
        var request = new ProduceRequest { Acks = -1, TimeoutMs = 30_000 };
        request.TopicData.Add(new() { Name = topic.Name, PartitionData = [new() { Index = partition, Records = batch }] });
        var response = await _handlers.SendAsync<ProduceRequest, ProduceResponse>(ApiKey.Produce, 11, request, caller, http.RequestAborted).ConfigureAwait(false);
        var result = response.Responses.Single().PartitionResponses.Single();
        if (result.ErrorCode != 0)
        {
            await AnswerAsync(http, result.ErrorCode, result.ErrorMessage ?? result.RecordErrors.FirstOrDefault()?.BatchIndexErrorMessage, "").ConfigureAwait(false);
            return;
        }

        await WriteAsync(http, 200, new ProducedBody(partition, result.BaseOffset), ConsoleJsonContext.Default.ProducedBody).ConfigureAwait(false);
    }

    /// <summary>POST topics/{topic}/search: starts a search on the thread pool and answers its id; the page polls it.</summary>
    public async Task StartSearchAsync(HttpContext http)
    {
        if (await CallerAsync(http).ConfigureAwait(false) is not { } caller
            || await TopicOrErrorAsync(http, caller, AclOperation.Read).ConfigureAwait(false) is not { } topic
            || await ReadAsync(http, ConsoleJsonContext.Default.SearchInput).ConfigureAwait(false) is not { } input)
        {
            return;
        }

        var (matcher, error) = SearchMatcher.Create(input);
        error ??= input.BytesMax is { } bytes && (bytes < 1 || bytes > Options.SearchBytesMaxLimit) ? $"bytesMax must be between 1 and {Options.SearchBytesMaxLimit}"
            : input.TimeMsMax is { } ms && (ms < 1 || ms > Options.SearchTimeMsLimit) ? $"timeMsMax must be between 1 and {Options.SearchTimeMsLimit}"
            : input.ResultsMax is { } results && (results < 1 || results > Options.SearchResultsLimit) ? $"resultsMax must be between 1 and {Options.SearchResultsLimit}"
            : null;
        if (error is not null)
        {
            await ErrorAsync(http, 400, error).ConfigureAwait(false);
            return;
        }

        if (_searches.Values.Count(s => s.Running) >= Options.SearchesRunningMax)
        {
            await ErrorAsync(http, 429, $"{Options.SearchesRunningMax} searches are running: wait for one or cancel it").ConfigureAwait(false);
            return;
        }

        foreach (var old in _searches.Values.Where(s => !s.Running).OrderBy(s => s.StartedAt).SkipLast(Options.SearchesKeptMax - 1))
        {
            if (_searches.TryRemove(old.Id, out var removed))
            {
                removed.Dispose();
            }
        }

        var id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12));
        var job = new SearchJob(id, topic.Name, caller.Principal, matcher!, input.BytesMax ?? Options.SearchBytesMaxDefault,
            input.TimeMsMax ?? Options.SearchTimeMsDefault, input.ResultsMax ?? Options.SearchResultsDefault, Time);
        _searches[id] = job;
        var logs = Logs(Core, topic).ToList();
        _ = Task.Run(() => job.RunAsync(logs, Options.BeforeSearchRead));
        await WriteAsync(http, 202, new SearchStartedBody(id), ConsoleJsonContext.Default.SearchStartedBody).ConfigureAwait(false);
    }

    public async Task SearchAsync(HttpContext http)
    {
        if (await CallerAsync(http).ConfigureAwait(false) is not { } caller || await SearchOrErrorAsync(http, caller).ConfigureAwait(false) is not { } job)
        {
            return;
        }

        await WriteAsync(http, 200, job.Snapshot(), ConsoleJsonContext.Default.SearchBody).ConfigureAwait(false);
    }

    public async Task CancelSearchAsync(HttpContext http)
    {
        if (await CallerAsync(http).ConfigureAwait(false) is not { } caller || await SearchOrErrorAsync(http, caller).ConfigureAwait(false) is not { } job)
        {
            return;
        }

        job.Cancel();
        await WriteAsync(http, 200, new ResultBody("cancelling"), ConsoleJsonContext.Default.ResultBody).ConfigureAwait(false);
    }

    private async Task<SearchJob?> SearchOrErrorAsync(HttpContext http, ConnectionInfo caller)
    {
        if (_searches.TryGetValue(Route(http, "id"), out var job) && job.Principal == caller.Principal)
        {
            return job;
        }

        await ErrorAsync(http, 404, "no such search (finished searches are kept only for a while)").ConfigureAwait(false);
        return null;
    }
}
