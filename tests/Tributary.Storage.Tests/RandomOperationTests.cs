using Xunit.Sdk;
using static Tributary.Storage.Tests.RecordBatchBuilder;

namespace Tributary.Storage.Tests;

/// <summary>
/// Seeded random sequences of appends, fetches, restarts, crashes, rolls, retention and DeleteRecords, checked
/// after every step against a model that is just a map of offset to value. A failure names its seed and step.
/// </summary>
public sealed class RandomOperationTests
{
    private const string Topic = "model";
    private const int Operations = 2000;

    [Theory]
    [InlineData(DeviceKind.Memory, 1)]
    [InlineData(DeviceKind.Memory, 2)]
    [InlineData(DeviceKind.File, 3)]
    public void Random_operations_match_a_simple_model(DeviceKind kind, int seed)
    {
        var random = new Random(seed);
        using var target = new StorageTarget(kind);
        var config = LogConfig.Default with
        {
            SegmentBytes = 600,
            SegmentMs = 50_000,
            IndexIntervalBytes = 100,
            RetentionMs = -1,
            RetentionBytes = 5000,
        };
        var manager = target.Open(config);
        var log = manager.GetOrCreate(Topic, 0, config);
        var values = new Dictionary<long, string>();
        var batches = new List<(long BaseOffset, long LastOffset, long MaxTimestampMs)>();
        long start = 0;
        long end = 0;
        long nextTimestampMs = 1_000;

        for (var step = 0; step < Operations; step++)
        {
            var choice = random.Next(100);
            var operation = choice switch
            {
                < 45 => "append",
                < 75 => "read",
                < 80 => "time",
                < 84 => "delete-records",
                < 87 => "retention",
                < 90 => "reopen",
                < 93 => "crash",
                _ => "timestamp",
            };
            try
            {
                switch (operation)
                {
                    case "append":
                        {
                            var batchCount = random.Next(1, 4);
                            var sent = new List<byte[]>();
                            for (var b = 0; b < batchCount; b++)
                            {
                                var recordCount = random.Next(1, 5);
                                var recordValues = Enumerable.Range(0, recordCount)
                                    .Select(r => $"s{step}b{b}r{r}" + new string('x', random.Next(0, 40)))
                                    .ToArray();
                                sent.Add(Build(recordValues.Select(Value).ToArray(), nextTimestampMs));
                                for (var r = 0; r < recordCount; r++)
                                {
                                    values[end + r] = recordValues[r];
                                }

                                batches.Add((end, end + recordCount - 1, nextTimestampMs + recordCount - 1));
                                end += recordCount;
                                nextTimestampMs += 10;
                            }

                            var result = log.Append(Concat([.. sent]));
                            Assert.Equal(batches[^batchCount].BaseOffset, result.FirstOffset);
                            Assert.Equal(end - 1, result.LastOffset);
                            break;
                        }

                    case "read":
                        {
                            var fetchOffset = start - 2 + random.NextInt64(end - start + 5);
                            var maxBytes = random.Next(0, 1500);
                            var minOneBatch = random.Next(4) != 0;
                            var read = log.Read(fetchOffset, new LogReadOptions(maxBytes) { MinOneBatch = minOneBatch });
                            Assert.Equal((start, end), (read.LogStartOffset, read.HighWatermark));
                            if (fetchOffset < start || fetchOffset > end)
                            {
                                Assert.Equal(LogReadStatus.OffsetOutOfRange, read.Status);
                                break;
                            }

                            Assert.Equal(LogReadStatus.Ok, read.Status);
                            if (!minOneBatch || read.Records.Length > maxBytes)
                            {
                                Assert.True(read.Records.Length <= maxBytes || ReadHeaders(read.Records).Count == 1);
                            }

                            if (fetchOffset == end || (!minOneBatch && read.Records.IsEmpty))
                            {
                                break;
                            }

                            var headers = ReadHeaders(read.Records);
                            Assert.NotEmpty(headers);
                            Assert.InRange(fetchOffset, headers[0].BaseOffset, headers[0].LastOffset);
                            var records = ReadRecords(read.Records);
                            Assert.Equal(
                                Enumerable.Range(0, records.Count).Select(i => headers[0].BaseOffset + i),
                                records.Select(r => r.Offset));
                            Assert.All(records, r => Assert.Equal(values[r.Offset], r.Value));
                            Assert.True(records[^1].Offset < end);
                            break;
                        }

                    case "time":
                        target.Time.Advance(TimeSpan.FromMilliseconds(random.Next(0, 60_000)));
                        break;

                    case "delete-records":
                        {
                            var offset = random.Next(5) == 0 ? -1 : start + random.NextInt64(end - start + 1);
                            var lowWatermark = log.DeleteRecordsBefore(offset);
                            start = Math.Max(start, offset == -1 ? end : offset);
                            Assert.Equal(start, lowWatermark);
                            break;
                        }

                    case "retention":
                        {
                            manager.RunRetention();
                            Assert.InRange(log.LogStartOffset, start, end);
                            start = log.LogStartOffset;
                            Assert.True(log.SizeBytes <= config.RetentionBytes + config.SegmentBytes + 1000);
                            break;
                        }

                    case "reopen":
                    case "crash":
                        {
                            if (operation == "reopen")
                            {
                                manager.Dispose();
                            }
                            else
                            {
                                StorageTarget.Crash(manager);
                            }

                            manager = target.Open(config);
                            Assert.Equal(operation == "reopen", manager.LoadedAfterCleanShutdown);
                            log = manager.GetOrCreate(Topic, 0, config);
                            Assert.Equal((start, end), (log.LogStartOffset, log.LogEndOffset));
                            break;
                        }

                    case "timestamp":
                        {
                            var timestampMs = random.NextInt64(0, nextTimestampMs + 20);
                            var expected = batches.FirstOrDefault(b => b.LastOffset >= start && b.MaxTimestampMs >= timestampMs);
                            long? expectedOffset = expected == default ? null : Math.Max(expected.BaseOffset, start);
                            Assert.Equal(expectedOffset, log.FirstOffsetAtOrAfterTimestamp(timestampMs));
                            break;
                        }
                }

                if (step % 250 == 249)
                {
                    var all = SegmentRollTests.ConsumeAll(log, maxBytes: random.Next(1, 3000));
                    Assert.Equal(LongRange(start, end), all.Select(r => r.Offset));
                    Assert.All(all, r => Assert.Equal(values[r.Offset], r.Value));
                }
            }
            catch (Exception e)
            {
                throw new XunitException($"seed {seed}, step {step} ({operation}), log [{start}, {end}): {e}");
            }
        }

        Assert.True(log.SegmentCount > 1, "the sequence should have rolled segments");
        manager.Dispose();
    }

    private static IEnumerable<long> LongRange(long start, long end)
    {
        for (var offset = start; offset < end; offset++)
        {
            yield return offset;
        }
    }
}
