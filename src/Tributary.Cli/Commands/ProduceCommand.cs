using System.CommandLine;
using System.Text;
using System.Threading.Channels;
using Spectre.Console;
using Tributary.Cli.Connection;
using Tributary.Protocol.Records;
using Tributary.Server.Client;

namespace Tributary.Cli.Commands;

/// <summary>
/// <c>tributary produce TOPIC</c>: one record per line (or per <c>--delimiter</c>) from stdin or <c>--file</c>, as
/// <c>kcat -P</c> and <c>kafka-console-producer.sh</c> do, over <see cref="KafkaWireClient"/>. A summary goes to stderr;
/// a broker error is one line and exit code 1.
/// </summary>
internal static class ProduceCommand
{
    /// <summary>Inputs at least this large show a progress bar when stderr is a terminal.</summary>
    private const long ProgressInputBytesMin = 8 * 1024 * 1024;

    // Records waiting between the input reader and the sender: bounds memory when the broker is slower than the input.
    private const int QueuedRecordsMax = 10_000;

    internal static Command Create()
    {
        var topic = new Argument<string>("topic") { Description = "the topic to write to (created if the broker auto-creates topics)" };
        var bootstrap = CommonOptions.Bootstrap;
        var file = new Option<FileInfo?>("--file", "-f") { Description = "read records from FILE instead of stdin", HelpName = "FILE" };
        var delimiter = new Option<string>("--delimiter", "-D")
        {
            Description = @"record delimiter; \n \t \r \0 and \\ are unescaped (default \n)",
            DefaultValueFactory = _ => "\n",
            CustomParser = result => Unescape(result.Tokens[0].Value),
        };
        delimiter.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<string>().Length == 0)
            {
                result.AddError("--delimiter must not be empty");
            }
        });
        var keySeparator = new Option<string?>("--key-separator", "-K")
        {
            Description = "split each record at the first SEP into key and value; records without SEP get a null key",
            HelpName = "SEP",
            CustomParser = result => Unescape(result.Tokens[0].Value),
        };
        var headers = new Option<string[]>("--header", "-H") { Description = "add header KEY=VALUE to every record (repeatable)", HelpName = "KEY=VALUE" };
        headers.Validators.Add(result =>
        {
            foreach (var header in result.GetValueOrDefault<string[]>() ?? [])
            {
                if (header.IndexOf('=', StringComparison.Ordinal) <= 0)
                {
                    result.AddError($"--header '{header}' is not KEY=VALUE");
                }
            }
        });
        var partition = new Option<int?>("--partition", "-p") { Description = "write every record to partition N (default: murmur2 of the key as Kafka's partitioner; records without a key rotate)", HelpName = "N" };
        partition.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int?>() is < 0)
            {
                result.AddError("--partition must be 0 or more");
            }
        });
        var acks = new Option<string>("--acks", "-a") { Description = "0: do not wait; 1: the leader appended; all (or -1): every in-sync replica has it", DefaultValueFactory = _ => "all" };
        WireCommand.AcceptOnly(acks, "0", "1", "all", "-1");
        var compression = new Option<string>("--compression", "-z") { Description = "batch compression codec", DefaultValueFactory = _ => "none" };
        WireCommand.AcceptOnly(compression, "none", "gzip", "snappy", "lz4", "zstd");
        var idempotent = new Option<bool>("--idempotent") { Description = "idempotent producer: a producer id and per-partition sequence numbers, so a resent batch is not written twice (needs acks all)" };
        var lingerMs = new Option<int>("--linger-ms") { Description = "wait up to MS for more records before sending a batch", HelpName = "MS", DefaultValueFactory = _ => 5 };
        lingerMs.Validators.Add(result => NonNegative(result, "--linger-ms"));
        var batchBytes = new Option<int>("--batch-size") { Description = "send a partition's batch once it holds about BYTES", HelpName = "BYTES", DefaultValueFactory = _ => 1024 * 1024 };
        batchBytes.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() < 1)
            {
                result.AddError("--batch-size must be at least 1");
            }
        });

        var command = new Command("produce", "write records from stdin or a file to a topic, one per line")
        {
            topic, bootstrap, CommonOptions.CommandConfig, file, delimiter, keySeparator, headers, partition, acks, compression, idempotent, lingerMs, batchBytes,
        };
        command.Validators.Add(result =>
        {
            if (result.GetValue(idempotent) && result.GetValue(acks) is "0" or "1")
            {
                result.AddError("--idempotent needs --acks all");
            }
        });
        command.SetAction((parsed, cancellationToken) => WireCommand.RunAsync("produce", () =>
        {
            var settings = new ProducerSettings(
                parsed.GetValue(acks) is "all" or "-1" ? (short)-1 : short.Parse(parsed.GetValue(acks)!, System.Globalization.CultureInfo.InvariantCulture),
                Enum.Parse<CompressionType>(parsed.GetValue(compression)!, ignoreCase: true),
                parsed.GetValue(batchBytes),
                parsed.GetValue(lingerMs),
                parsed.GetValue(idempotent),
                parsed.GetValue(partition),
                [.. (parsed.GetValue(headers) ?? []).Select(h => h.Split('=', 2)).Select(kv => (kv[0], (byte[]?)Encoding.UTF8.GetBytes(kv[1])))]);
            var keySeparatorText = parsed.GetValue(keySeparator);
            var reader = new DelimitedRecordReader(
                Encoding.UTF8.GetBytes(parsed.GetValue(delimiter)!),
                string.IsNullOrEmpty(keySeparatorText) ? null : Encoding.UTF8.GetBytes(keySeparatorText));
            return RunAsync(parsed.GetValue(bootstrap)!, CommonOptions.Security(parsed), parsed.GetValue(topic)!, parsed.GetValue(file), reader, settings, cancellationToken);
        }));
        return command;
    }

    private static async Task<int> RunAsync(string bootstrap, ClientSecurity security, string topic, FileInfo? file, DelimitedRecordReader reader, ProducerSettings settings, CancellationToken cancellationToken)
    {
        Stream input;
        try
        {
            input = file is null ? Console.OpenStandardInput() : file.OpenRead();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CommandFailedException($"cannot read {file!.FullName}: {e.Message}");
        }

        await using var inputStream = input;
        await using var client = await BrokerConnection.ConnectAsync(bootstrap, security, cancellationToken).ConfigureAwait(false);
        var metadata = await WireCommand.TopicAsync(client, topic, allowAutoCreate: true, cancellationToken).ConfigureAwait(false);
        var partitionCount = metadata.Partitions.Count;
        if (settings.Partition >= partitionCount)
        {
            throw new CommandFailedException($"topic '{topic}' has {partitionCount} partitions (0 to {partitionCount - 1}), not partition {settings.Partition}");
        }

        var producer = new RecordProducer(client, topic, partitionCount, settings, TimeProvider.System);
        var records = Channel.CreateBounded<InputRecord>(new BoundedChannelOptions(QueuedRecordsMax) { SingleReader = true, SingleWriter = true });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var reading = reader.ReadAsync(inputStream, records.Writer, stop.Token);
        try
        {
            var sending = producer.RunAsync(records.Reader, stop.Token);
            if (file is not null && file.Length >= ProgressInputBytesMin && !Console.IsErrorRedirected)
            {
                await ShowProgressAsync(file.Length, reader, sending).ConfigureAwait(false);
            }

            await sending.ConfigureAwait(false);
            await reading.ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            Console.Error.WriteLine($"tributary produce: interrupted; {Summary(producer, topic)}");
            return WireCommand.FailedExitCode;
        }
        finally
        {
            // A failed send leaves the reader waiting on a full queue: stop it before leaving.
            await stop.CancelAsync().ConfigureAwait(false);
            await reading.ContinueWith(_ => { }, TaskScheduler.Default).ConfigureAwait(false);
        }

        Console.Error.WriteLine(Summary(producer, topic));
        return 0;
    }

    private static string Summary(RecordProducer producer, string topic) =>
        $"produced {producer.RecordCount} records ({producer.ByteCount} bytes of keys and values) to {topic}, partitions {(producer.PartitionsWritten.Count == 0 ? "none" : string.Join(", ", producer.PartitionsWritten.Order()))}";

    /// <summary>A Spectre progress bar on stderr tracking how much of the input file has been read.</summary>
    private static Task ShowProgressAsync(long inputBytes, DelimitedRecordReader reader, Task sending)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        return console.Progress().AutoClear(true).StartAsync(async context =>
        {
            var task = context.AddTask("producing", maxValue: inputBytes);
            using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(100));
            while (!sending.IsCompleted)
            {
                await Task.WhenAny(sending, timer.WaitForNextTickAsync().AsTask()).ConfigureAwait(false);
                task.Value = reader.BytesRead;
            }
        });
    }

    private static void NonNegative(System.CommandLine.Parsing.OptionResult result, string name)
    {
        if (result.GetValueOrDefault<int>() < 0)
        {
            result.AddError($"{name} must be 0 or more");
        }
    }

    /// <summary>Turns the escapes a shell cannot easily pass (\n \t \r \0 \\) into their characters.</summary>
    internal static string Unescape(string text) =>
        text.Replace(@"\\", "\u0001", StringComparison.Ordinal)
            .Replace(@"\n", "\n", StringComparison.Ordinal)
            .Replace(@"\t", "\t", StringComparison.Ordinal)
            .Replace(@"\r", "\r", StringComparison.Ordinal)
            .Replace(@"\0", "\0", StringComparison.Ordinal)
            .Replace("\u0001", @"\", StringComparison.Ordinal);
}
