#:project ../src/Tributary.Server/Tributary.Server.csproj
#:property PublishAot=false

// Consumer-group figures of the broker (issue: consumer groups). Run: dotnet run -c Release bench/group-figures.cs
// An embedded on-disk broker on a free loopback port; raw clients over KafkaWireClient, one connection each:
//  - rebalance time of a group of 10, two ways: the broker's part, from the last member's JoinGroup of the new
//    generation to the moment the last member has its SyncGroup assignment; and end to end, from the JoinGroup (or
//    LeaveGroup) that starts the rebalance to that same moment. End to end includes the members learning of the
//    rebalance from their heartbeat, so it is about the heartbeat interval (printed with it); each change is made half
//    an interval after the previous generation settled, so members are mid-way to their next heartbeat;
//  - OffsetCommit requests per second on one connection, one request in flight, 1 and 12 partitions per request.
// Bounded: a fixed number of rounds, every wait has a deadline, the whole run is cancelled after RunSecondsMax.
using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using Tributary.Server;
using Tributary.Server.Client;

const int RunSecondsMax = 180;
const int GroupSize = 10;
const int PartitionCount = 20;
const int Rounds = 5;
const int CommitSeconds = 5;
const string Topic = "figures";
TimeSpan[] heartbeatIntervals = [TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(3)];

using var runLimit = new CancellationTokenSource(TimeSpan.FromSeconds(RunSecondsMax));
var data = Directory.CreateTempSubdirectory("tributary-group-figures-");
try
{
    await using var broker = await TributaryBroker.StartAsync(new TributaryBrokerOptions { InMemory = false, DataDirectory = data.FullName });
    await broker.CreateTopicAsync(Topic, PartitionCount);
    var rows = new List<(string Figure, string Value)>();

    foreach (var heartbeat in heartbeatIntervals)
    {
        var group = $"rebalance-{heartbeat.TotalMilliseconds.ToString(CultureInfo.InvariantCulture)}ms";
        var progress = new GroupProgress();
        var members = new List<(RawMember Member, Task Loop, CancellationTokenSource Stop)>();

        async Task<RawMember> StartMemberAsync(string name)
        {
            var client = await KafkaWireClient.ConnectAsync(broker.BootstrapServers, runLimit.Token);
            var member = new RawMember(name, client, group, Topic, PartitionCount, heartbeat, progress);
            var stop = CancellationTokenSource.CreateLinkedTokenSource(runLimit.Token);
            members.Add((member, member.RunAsync(stop.Token), stop));
            return member;
        }

        // Ten members at once (KIP-394: each first JoinGroup gets MEMBER_ID_REQUIRED, then rejoins with its id).
        var generation = progress.LatestGeneration;
        var formed = Stopwatch.GetTimestamp();
        for (var i = 0; i < GroupSize; i++)
        {
            await StartMemberAsync($"m{i}");
        }

        var formedGeneration = await progress.WaitForGenerationAsync(generation, GroupSize, members.Select(m => m.Loop), runLimit.Token);
        var formMs = Stopwatch.GetElapsedTime(formed, formedGeneration.LastSyncedAt).TotalMilliseconds;
        var lastJoinToAssignedMs = new List<double> { formedGeneration.LastJoinToAssignedMs };

        var joinMs = new List<double>();
        var leaveMs = new List<double>();
        for (var round = 0; round < Rounds; round++)
        {
            // The 10th member leaves (LeaveGroup), then a new 10th member joins.
            await Task.Delay(heartbeat / 2, runLimit.Token);
            generation = progress.LatestGeneration;
            var last = members[^1];
            members.RemoveAt(members.Count - 1);
            var leaving = Stopwatch.GetTimestamp();
            await last.Stop.CancelAsync();
            await last.Loop;
            await last.Member.DisposeAsync();
            last.Stop.Dispose();
            var left = await progress.WaitForGenerationAsync(generation, GroupSize - 1, members.Select(m => m.Loop), runLimit.Token);
            leaveMs.Add(Stopwatch.GetElapsedTime(leaving, left.LastSyncedAt).TotalMilliseconds);
            lastJoinToAssignedMs.Add(left.LastJoinToAssignedMs);

            await Task.Delay(heartbeat / 2, runLimit.Token);
            generation = progress.LatestGeneration;
            var joining = Stopwatch.GetTimestamp();
            await StartMemberAsync($"m{GroupSize + round}");
            var joined = await progress.WaitForGenerationAsync(generation, GroupSize, members.Select(m => m.Loop), runLimit.Token);
            joinMs.Add(Stopwatch.GetElapsedTime(joining, joined.LastSyncedAt).TotalMilliseconds);
            lastJoinToAssignedMs.Add(joined.LastJoinToAssignedMs);
        }

        foreach (var (member, loop, stop) in members)
        {
            await stop.CancelAsync();
            await loop;
            await member.DisposeAsync();
            stop.Dispose();
        }

        var hb = $"heartbeat {heartbeat.TotalMilliseconds.ToString(CultureInfo.InvariantCulture)} ms";
        rows.Add(($"last JoinGroup of a generation to all 10 (or 9) members assigned, {hb} ({lastJoinToAssignedMs.Count} rebalances)", $"median {Median(lastJoinToAssignedMs):F1} ms (min {lastJoinToAssignedMs.Min():F1}, max {lastJoinToAssignedMs.Max():F1})"));
        rows.Add(($"10 members form a new group, {hb}", $"{formMs:F0} ms"));
        rows.Add(($"a 10th member joins a stable group of 9, {hb} (median of {Rounds})", $"{Median(joinMs):F0} ms (min {joinMs.Min():F0}, max {joinMs.Max():F0})"));
        rows.Add(($"a member of 10 leaves, 9 reassigned, {hb} (median of {Rounds})", $"{Median(leaveMs):F0} ms (min {leaveMs.Min():F0}, max {leaveMs.Max():F0})"));
    }

    foreach (var partitionsPerRequest in new[] { 1, 12 })
    {
        await using var client = await KafkaWireClient.ConnectAsync(broker.BootstrapServers, runLimit.Token);
        var request = new OffsetCommitRequest
        {
            GroupId = $"commits-{partitionsPerRequest}",
            Topics = [new OffsetCommitRequest.OffsetCommitRequestTopic { Name = Topic, Partitions = [.. Enumerable.Range(0, partitionsPerRequest).Select(p => new OffsetCommitRequest.OffsetCommitRequestPartition { PartitionIndex = p })] }],
        };
        var requests = 0L;
        var started = Stopwatch.GetTimestamp();
        while (Stopwatch.GetElapsedTime(started).TotalSeconds < CommitSeconds)
        {
            foreach (var p in request.Topics[0].Partitions)
            {
                p.CommittedOffset = requests;
            }

            // v8: generation -1 and no member id, as a consumer that assigns its own partitions commits.
            var response = await client.SendAsync<OffsetCommitRequest, OffsetCommitResponse>(ApiKey.OffsetCommit, 8, request, runLimit.Token);
            var error = response.Topics[0].Partitions.Select(p => (ErrorCode)p.ErrorCode).FirstOrDefault(e => e != ErrorCode.None);
            if (error != ErrorCode.None)
            {
                throw new InvalidOperationException($"OffsetCommit failed: {error}");
            }

            requests++;
        }

        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        rows.Add((
            $"OffsetCommit, {partitionsPerRequest} partition{(partitionsPerRequest == 1 ? "" : "s")} per request, one connection, {CommitSeconds} s",
            $"{requests / seconds:N0} requests/s ({requests * partitionsPerRequest / seconds:N0} offsets/s, {seconds * 1e6 / requests:F0} µs each)"));
    }

    Console.WriteLine($"Tributary consumer-group figures: {Environment.ProcessorCount} cores, .NET {Environment.Version}, on-disk broker on {broker.BootstrapServers}, topic of {PartitionCount} partitions");
    Console.WriteLine();
    Console.WriteLine("| figure | value |");
    Console.WriteLine("|---|---:|");
    foreach (var (figure, value) in rows)
    {
        Console.WriteLine($"| {figure} | {value} |");
    }
}
finally
{
    data.Delete(recursive: true);
}

static double Median(List<double> values)
{
    var sorted = values.Order().ToList();
    return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
}

/// <summary>Which members hold an assignment of which generation, and when each got it.</summary>
internal sealed class GroupProgress
{
    private static readonly TimeSpan GenerationWaitMax = TimeSpan.FromSeconds(30);

    private readonly Lock _lock = new();
    private readonly Dictionary<int, Dictionary<string, (long JoinSentAt, long SyncedAt)>> _synced = [];

    public int LatestGeneration
    {
        get
        {
            lock (_lock)
            {
                return _synced.Count == 0 ? 0 : _synced.Keys.Max();
            }
        }
    }

    public void Synced(int generation, string memberId, long joinSentAt)
    {
        var now = Stopwatch.GetTimestamp();
        lock (_lock)
        {
            if (!_synced.TryGetValue(generation, out var members))
            {
                _synced[generation] = members = [];
            }

            members[memberId] = (joinSentAt, now);
        }
    }

    /// <summary>
    /// The first generation after <paramref name="after"/> in which <paramref name="size"/> members got their assignment:
    /// when the last did, and how long after the last of them sent the JoinGroup that led to it.
    /// </summary>
    public async Task<(int Generation, long LastSyncedAt, double LastJoinToAssignedMs)> WaitForGenerationAsync(int after, int size, IEnumerable<Task> loops, CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(GenerationWaitMax.TotalSeconds * Stopwatch.Frequency);
        while (true)
        {
            lock (_lock)
            {
                foreach (var (generation, members) in _synced.Where(g => g.Key > after).OrderBy(g => g.Key))
                {
                    if (members.Count == size)
                    {
                        var lastSynced = members.Values.Max(m => m.SyncedAt);
                        var lastJoin = members.Values.Max(m => m.JoinSentAt);
                        return (generation, lastSynced, Stopwatch.GetElapsedTime(lastJoin, lastSynced).TotalMilliseconds);
                    }
                }
            }

            if (loops.FirstOrDefault(l => l.IsFaulted) is { } failed)
            {
                await failed;
            }

            if (Stopwatch.GetTimestamp() > deadline)
            {
                throw new TimeoutException($"no generation after {after} with {size} members within {GenerationWaitMax.TotalSeconds} s");
            }

            await Task.Delay(1, cancellationToken);
        }
    }
}

/// <summary>
/// A classic-protocol consumer reduced to its group traffic: JoinGroup (v7), SyncGroup (v5) with a range assignment by
/// the leader, Heartbeat (v4) at a fixed interval, rejoin on REBALANCE_IN_PROGRESS, LeaveGroup (v4) when stopped.
/// </summary>
internal sealed class RawMember(string name, KafkaWireClient client, string group, string topic, int partitionCount, TimeSpan heartbeat, GroupProgress progress) : IAsyncDisposable
{
    private const int SessionTimeoutMs = 10_000;
    private const int RebalanceTimeoutMs = 10_000;
    private const int JoinAttemptsMax = 50;

    private string _memberId = "";
    private int _generation = -1;

    public async Task RunAsync(CancellationToken stop)
    {
        await JoinAndSyncAsync();
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(heartbeat, stop);
            }
            catch (OperationCanceledException)
            {
                break;
            }

            var response = await client.SendAsync<HeartbeatRequest, HeartbeatResponse>(ApiKey.Heartbeat, 4, new HeartbeatRequest { GroupId = group, GenerationId = _generation, MemberId = _memberId });
            switch ((ErrorCode)response.ErrorCode)
            {
                case ErrorCode.None:
                    break;
                case ErrorCode.RebalanceInProgress:
                    await JoinAndSyncAsync();
                    break;
                default:
                    throw new InvalidOperationException($"{name}: heartbeat {(ErrorCode)response.ErrorCode}");
            }
        }

        var leave = new LeaveGroupRequest { GroupId = group, Members = [new LeaveGroupRequest.MemberIdentity { MemberId = _memberId }] };
        await client.SendAsync<LeaveGroupRequest, LeaveGroupResponse>(ApiKey.LeaveGroup, 4, leave);
    }

    public ValueTask DisposeAsync() => client.DisposeAsync();

    private async Task JoinAndSyncAsync()
    {
        for (var attempt = 0; attempt < JoinAttemptsMax; attempt++)
        {
            var joinSentAt = Stopwatch.GetTimestamp();
            var join = await client.SendAsync<JoinGroupRequest, JoinGroupResponse>(ApiKey.JoinGroup, 7, new JoinGroupRequest
            {
                GroupId = group,
                SessionTimeoutMs = SessionTimeoutMs,
                RebalanceTimeoutMs = RebalanceTimeoutMs,
                MemberId = _memberId,
                ProtocolType = "consumer",
                Protocols = [new JoinGroupRequest.JoinGroupRequestProtocol { Name = "range", Metadata = Encode((ref KafkaWriter w) => new ConsumerProtocolSubscription { Topics = [topic] }.Write(ref w, 0)) }],
            });
            switch ((ErrorCode)join.ErrorCode)
            {
                case ErrorCode.MemberIdRequired:
                    _memberId = join.MemberId;
                    continue;
                case ErrorCode.None:
                    break;
                default:
                    throw new InvalidOperationException($"{name}: JoinGroup {(ErrorCode)join.ErrorCode}");
            }

            _memberId = join.MemberId;
            _generation = join.GenerationId;
            var assignments = join.Leader == _memberId ? Range(join.Members.Select(m => m.MemberId).Order(StringComparer.Ordinal).ToList()) : [];
            var sync = await client.SendAsync<SyncGroupRequest, SyncGroupResponse>(ApiKey.SyncGroup, 5, new SyncGroupRequest
            {
                GroupId = group,
                GenerationId = _generation,
                MemberId = _memberId,
                ProtocolType = "consumer",
                ProtocolName = "range",
                Assignments = assignments,
            });
            switch ((ErrorCode)sync.ErrorCode)
            {
                case ErrorCode.None:
                    progress.Synced(_generation, _memberId, joinSentAt);
                    return;
                case ErrorCode.RebalanceInProgress:
                    continue;
                default:
                    throw new InvalidOperationException($"{name}: SyncGroup {(ErrorCode)sync.ErrorCode}");
            }
        }

        throw new InvalidOperationException($"{name}: no stable generation after {JoinAttemptsMax} joins");
    }

    /// <summary>Kafka's range assignor for one topic: contiguous runs, the first members one partition more.</summary>
    private List<SyncGroupRequest.SyncGroupRequestAssignment> Range(List<string> memberIds)
    {
        var result = new List<SyncGroupRequest.SyncGroupRequestAssignment>();
        var next = 0;
        for (var i = 0; i < memberIds.Count; i++)
        {
            var count = (partitionCount / memberIds.Count) + (i < partitionCount % memberIds.Count ? 1 : 0);
            var partitions = Enumerable.Range(next, count).ToList();
            next += count;
            var assignment = new ConsumerProtocolAssignment { AssignedPartitions = [new ConsumerProtocolAssignment.TopicPartition { Topic = topic, Partitions = partitions }] };
            result.Add(new SyncGroupRequest.SyncGroupRequestAssignment { MemberId = memberIds[i], Assignment = Encode((ref KafkaWriter w) => assignment.Write(ref w, 0)) });
        }

        return result;
    }

    private delegate void WriteBody(ref KafkaWriter writer);

    /// <summary>ConsumerProtocol bytes: an int16 version (0) then the body at that version.</summary>
    private static byte[] Encode(WriteBody body)
    {
        var buffer = new ArrayBufferWriter<byte>();
        var writer = new KafkaWriter(buffer);
        writer.WriteInt16(0);
        body(ref writer);
        return buffer.WrittenSpan.ToArray();
    }
}
