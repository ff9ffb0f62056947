using System.CommandLine;
using Tributary.Cli.Connection;
using Tributary.Server.Client;

namespace Tributary.Cli.Commands;

/// <summary>
/// <c>tributary consume TOPIC</c>: prints records as <c>kcat -C</c> does (a format string, or JSON lines), from a chosen
/// position or as a member of a consumer group (KIP-848 heartbeats; offsets committed every few seconds, when partitions
/// move away and on exit; the group is left on exit). Stops after <c>--count</c> records, at the end with
/// <c>--exit-at-end</c>, or on Ctrl-C.
/// </summary>
internal static class ConsumeCommand
{
    private const int CommitIntervalMs = 5000;

    // Leaving cleanly after Ctrl-C: commit and leave the group within this time.
    private static readonly TimeSpan ShutdownTimeout = TimeSpan.FromSeconds(5);

    internal static Command Create()
    {
        var topic = new Argument<string>("topic") { Description = "the topic to read" };
        var bootstrap = CommonOptions.Bootstrap;
        var from = new Option<StartPosition>("--from", "-o")
        {
            Description = $"where to start ({StartPosition.Syntax}); with --group only where the group has no committed offset",
            HelpName = "POSITION",
            DefaultValueFactory = _ => new StartPosition(StartPosition.Kinds.End, 0),
            CustomParser = result =>
            {
                if (!StartPosition.TryParse(result.Tokens[0].Value, out var position))
                {
                    result.AddError($"--from '{result.Tokens[0].Value}' is not {StartPosition.Syntax}");
                }

                return position;
            },
        };
        var partition = new Option<int?>("--partition", "-p") { Description = "read only partition N", HelpName = "N" };
        partition.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int?>() is < 0)
            {
                result.AddError("--partition must be 0 or more");
            }
        });
        var group = new Option<string?>("--group", "-G") { Description = "consume as a member of consumer group G and commit offsets", HelpName = "G" };
        var format = new Option<string>("--format", "-f")
        {
            Description = $"output format: {RecordFormatter.Tokens}",
            DefaultValueFactory = _ => @"%s\n",
        };
        format.Validators.Add(result =>
        {
            RecordFormatter.Parse(result.GetValueOrDefault<string>(), out var error);
            if (error is not null)
            {
                result.AddError(error);
            }
        });
        var output = new Option<string>("--output") { Description = "text (--format) or json: one JSON object per line", DefaultValueFactory = _ => "text" };
        WireCommand.AcceptOnly(output, "text", "json");
        var count = new Option<long?>("--count", "-c") { Description = "exit after N records", HelpName = "N" };
        count.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<long?>() is < 1)
            {
                result.AddError("--count must be at least 1");
            }
        });
        var exitAtEnd = new Option<bool>("--exit-at-end", "-e") { Description = "exit once every partition is read up to its end (high watermark, or last stable offset with read_committed)" };
        var isolation = new Option<string>("--isolation") { Description = "read_committed skips aborted and open transactions", DefaultValueFactory = _ => "read_uncommitted" };
        WireCommand.AcceptOnly(isolation, "read_uncommitted", "read_committed");

        var command = new Command("consume", "print a topic's records, from a position or as a consumer group member")
        {
            topic, bootstrap, CommonOptions.CommandConfig, from, partition, group, format, output, count, exitAtEnd, isolation,
        };
        command.Validators.Add(result =>
        {
            if (result.GetValue(group) is not null && result.GetValue(partition) is not null)
            {
                result.AddError("--partition and --group exclude each other: a group member reads the partitions the group assigns");
            }
        });
        command.SetAction((parsed, cancellationToken) => WireCommand.RunAsync("consume", () =>
        {
            var settings = new Settings(
                parsed.GetValue(topic)!,
                parsed.GetValue(from),
                parsed.GetValue(partition),
                parsed.GetValue(group),
                parsed.GetValue(output) == "json" ? RecordFormatter.Json() : RecordFormatter.Parse(parsed.GetValue(format)!, out _),
                parsed.GetValue(count),
                parsed.GetValue(exitAtEnd),
                parsed.GetValue(isolation) == "read_committed" ? RecordFetcher.ReadCommitted : RecordFetcher.ReadUncommitted);
            return RunAsync(parsed.GetValue(bootstrap)!, CommonOptions.Security(parsed), settings, cancellationToken);
        }));
        return command;
    }

    private static async Task<int> RunAsync(string bootstrap, ClientSecurity security, Settings settings, CancellationToken cancellationToken)
    {
        await using var client = await BrokerConnection.ConnectAsync(bootstrap, security, cancellationToken).ConfigureAwait(false);
        var metadata = await WireCommand.TopicAsync(client, settings.Topic, allowAutoCreate: false, cancellationToken).ConfigureAwait(false);
        var partitionCount = metadata.Partitions.Count;
        if (settings.Partition >= partitionCount)
        {
            throw new CommandFailedException($"topic '{settings.Topic}' has {partitionCount} partitions (0 to {partitionCount - 1}), not partition {settings.Partition}");
        }

        var fetcher = new RecordFetcher(client, settings.Topic, settings.IsolationLevel);
        await using var stdout = new BufferedStream(Console.OpenStandardOutput(), 64 * 1024);
        var printed = 0L;
        bool Print(ConsumedRecord record)
        {
            settings.Formatter.Write(stdout, record);
            printed++;
            return printed < settings.Count.GetValueOrDefault(long.MaxValue);
        }

        if (settings.Group is null)
        {
            var partitions = settings.Partition is { } only ? [only] : Enumerable.Range(0, partitionCount).ToList();
            foreach (var (p, offset) in await StartOffsetsAsync(client, settings, partitions, cancellationToken).ConfigureAwait(false))
            {
                fetcher.Assign(p, offset);
            }

            try
            {
                while (!Done(fetcher, settings, printed))
                {
                    await fetcher.FetchAsync(Print, cancellationToken).ConfigureAwait(false);
                    await stdout.FlushAsync(cancellationToken).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
            }

            await stdout.FlushAsync(CancellationToken.None).ConfigureAwait(false);
            return 0;
        }

        await using var member = await ConsumerGroupMember.JoinAsync(client, security, settings.Group, settings.Topic, metadata.TopicId, cancellationToken).ConfigureAwait(false);
        try
        {
            var lastCommitMs = Environment.TickCount64;
            while (!Done(fetcher, settings, printed))
            {
                await ReconcileAsync(client, member, fetcher, settings, cancellationToken).ConfigureAwait(false);
                if (fetcher.Positions.Count == 0)
                {
                    await Task.Delay(100, cancellationToken).ConfigureAwait(false);
                    continue;
                }

                await fetcher.FetchAsync(Print, cancellationToken).ConfigureAwait(false);
                await stdout.FlushAsync(cancellationToken).ConfigureAwait(false);
                if (Environment.TickCount64 - lastCommitMs >= CommitIntervalMs)
                {
                    await member.CommitAsync(fetcher.Positions, cancellationToken).ConfigureAwait(false);
                    lastCommitMs = Environment.TickCount64;
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }

        await stdout.FlushAsync(CancellationToken.None).ConfigureAwait(false);
        using var shutdown = new CancellationTokenSource(ShutdownTimeout);
        await member.CommitAsync(fetcher.Positions, shutdown.Token).ConfigureAwait(false);
        await member.LeaveAsync(shutdown.Token).ConfigureAwait(false);
        return 0;
    }

    private static bool Done(RecordFetcher fetcher, Settings settings, long printed) =>
        printed >= settings.Count.GetValueOrDefault(long.MaxValue) || (settings.ExitAtEnd && fetcher.AllAtEnd);

    /// <summary>
    /// Brings the partitions read in line with the group's target assignment: commits and drops the revoked ones, starts
    /// the new ones at the group's committed offset (else at --from), then reports what it owns to the coordinator.
    /// </summary>
    private static async Task ReconcileAsync(KafkaWireClient client, ConsumerGroupMember member, RecordFetcher fetcher, Settings settings, CancellationToken cancellationToken)
    {
        var target = member.Target;
        var owned = fetcher.Positions.Keys.ToHashSet();
        if (owned.SetEquals(target))
        {
            return;
        }

        var revoked = fetcher.Positions.Where(p => !target.Contains(p.Key)).ToDictionary(p => p.Key, p => p.Value);
        await member.CommitAsync(revoked, cancellationToken).ConfigureAwait(false);
        foreach (var p in revoked.Keys)
        {
            fetcher.Unassign(p);
        }

        var added = target.Where(p => !owned.Contains(p)).ToList();
        if (added.Count > 0)
        {
            var committed = await member.CommittedAsync(added, cancellationToken).ConfigureAwait(false);
            var rest = added.Where(p => !committed.ContainsKey(p)).ToList();
            var starts = rest.Count == 0 ? [] : await StartOffsetsAsync(client, settings, rest, cancellationToken).ConfigureAwait(false);
            foreach (var p in added)
            {
                fetcher.Assign(p, committed.TryGetValue(p, out var offset) ? offset : starts[p]);
            }
        }

        member.SetOwned(fetcher.Positions.Keys);
    }

    /// <summary>Resolves --from into an offset per partition with ListOffsets.</summary>
    private static async Task<Dictionary<int, long>> StartOffsetsAsync(KafkaWireClient client, Settings settings, List<int> partitions, CancellationToken cancellationToken)
    {
        var from = settings.From;
        switch (from.Kind)
        {
            case StartPosition.Kinds.Offset:
                return partitions.ToDictionary(p => p, _ => from.Value);
            case StartPosition.Kinds.Beginning:
                return await WireCommand.OffsetsAsync(client, settings.Topic, partitions, WireCommand.EarliestTimestamp, settings.IsolationLevel, cancellationToken).ConfigureAwait(false);
            case StartPosition.Kinds.End:
                return await WireCommand.OffsetsAsync(client, settings.Topic, partitions, WireCommand.LatestTimestamp, settings.IsolationLevel, cancellationToken).ConfigureAwait(false);
            case StartPosition.Kinds.FromEnd:
                var earliest = await WireCommand.OffsetsAsync(client, settings.Topic, partitions, WireCommand.EarliestTimestamp, settings.IsolationLevel, cancellationToken).ConfigureAwait(false);
                var latest = await WireCommand.OffsetsAsync(client, settings.Topic, partitions, WireCommand.LatestTimestamp, settings.IsolationLevel, cancellationToken).ConfigureAwait(false);
                return partitions.ToDictionary(p => p, p => Math.Max(earliest[p], latest[p] - from.Value));
            default:
                // The first offset whose timestamp is at or after the time; none (-1) means the end.
                var atTime = await WireCommand.OffsetsAsync(client, settings.Topic, partitions, from.Value, settings.IsolationLevel, cancellationToken).ConfigureAwait(false);
                var end = atTime.Values.Any(o => o < 0)
                    ? await WireCommand.OffsetsAsync(client, settings.Topic, partitions, WireCommand.LatestTimestamp, settings.IsolationLevel, cancellationToken).ConfigureAwait(false)
                    : atTime;
                return partitions.ToDictionary(p => p, p => atTime[p] >= 0 ? atTime[p] : end[p]);
        }
    }

    private sealed record Settings(
        string Topic,
        StartPosition From,
        int? Partition,
        string? Group,
        RecordFormatter Formatter,
        long? Count,
        bool ExitAtEnd,
        sbyte IsolationLevel);
}
