#:project ../src/Tributary.Server/Tributary.Server.csproj
#:property PublishAot=false

// Authorizer overhead: kcat produce and consume throughput with the StandardAuthorizer holding 10,000 ACLs, as a ratio
// to the same broker without an authorizer, in one invocation.
// Run: bash bench/acl-overhead.sh (or dotnet run -c Release bench/acl-overhead.cs)
// Two embedded in-memory brokers, one after the other, both SASL_PLAINTEXT (SCRAM-SHA-256 user "bench"), so only
// the authorizer differs. The authorizer's ACLs: 9,998 for other users (literal and prefixed topics, groups) and
// WRITE and READ on the topic for "bench". Each mode: kcat -P of Records × 1 KB (acks=1), then kcat -C to the end.
using System.Diagnostics;
using System.Globalization;
using Tributary.Broker.Security.Authorization;
using Tributary.Server;

const int Records = 200_000;
const int RecordBytes = 1000;
const string Topic = "acl-bench";
const int AclCount = 10_000;

var input = Path.Combine(Path.GetTempPath(), $"acl-bench-{Environment.ProcessId}.txt");
var line = new string('x', RecordBytes);
await File.WriteAllLinesAsync(input, Enumerable.Repeat(line, Records));
try
{
    var plain = await MeasureAsync(authorizer: false);
    var authorized = await MeasureAsync(authorizer: true);
    Console.WriteLine($"records: {Records} x {RecordBytes} B; ACLs: {AclCount}");
    Console.WriteLine($"{"mode",-14} {"produce MB/s",12} {"consume MB/s",12}");
    Console.WriteLine($"{"no authorizer",-14} {plain.Produce,12:F1} {plain.Consume,12:F1}");
    Console.WriteLine($"{"authorizer",-14} {authorized.Produce,12:F1} {authorized.Consume,12:F1}");
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"ratio: produce {authorized.Produce / plain.Produce:F3}, consume {authorized.Consume / plain.Consume:F3}"));
}
finally
{
    File.Delete(input);
}

async Task<(double Produce, double Consume)> MeasureAsync(bool authorizer)
{
    var options = new TributaryBrokerOptions { Topics = { [Topic] = 1 } };
    options.SaslUsers["bench"] = "bench-secret";
    if (authorizer)
    {
        options.Config["authorizer.class.name"] = Authorizer.StandardAuthorizerClass;
    }

    await using var broker = await TributaryBroker.StartAsync(options);
    if (authorizer)
    {
        var acls = Enumerable.Range(0, AclCount - 2).Select(i => (i % 3) switch
        {
            0 => new AclBinding(AclResourceType.Topic, $"topic-{i}", AclPatternType.Literal, $"User:u{i % 500}", "*", AclOperation.Read, AclPermissionType.Allow),
            1 => new AclBinding(AclResourceType.Topic, $"acl-{i}-", AclPatternType.Prefixed, $"User:u{i % 500}", "*", AclOperation.Write, AclPermissionType.Allow),
            _ => new AclBinding(AclResourceType.Group, $"group-{i}", AclPatternType.Literal, $"User:u{i % 500}", "*", AclOperation.Read, AclPermissionType.Allow),
        }).Append(new AclBinding(AclResourceType.Topic, Topic, AclPatternType.Literal, "User:bench", "*", AclOperation.Write, AclPermissionType.Allow))
          .Append(new AclBinding(AclResourceType.Topic, Topic, AclPatternType.Literal, "User:bench", "*", AclOperation.Read, AclPermissionType.Allow));
        broker.Core.Authorizer.Create([.. acls]);
    }

    string[] sasl = ["-X", "security.protocol=SASL_PLAINTEXT", "-X", "sasl.mechanisms=SCRAM-SHA-256", "-X", "sasl.username=bench", "-X", "sasl.password=bench-secret"];
    var produce = await RunKcatAsync(["-P", "-b", broker.BootstrapServers, "-t", Topic, "-l", "-X", "acks=1", .. sasl, input]);
    var consume = await RunKcatAsync(["-C", "-b", broker.BootstrapServers, "-t", Topic, "-o", "beginning", "-e", "-q", "-f", "%o\n", .. sasl]);
    var megabytes = (double)Records * RecordBytes / 1e6;
    return (megabytes / produce.TotalSeconds, megabytes / consume.TotalSeconds);
}

static async Task<TimeSpan> RunKcatAsync(string[] arguments)
{
    var start = new ProcessStartInfo("kcat") { RedirectStandardOutput = true, RedirectStandardError = true };
    foreach (var argument in arguments)
    {
        start.ArgumentList.Add(argument);
    }

    var watch = Stopwatch.StartNew();
    using var process = Process.Start(start)!;
    var output = process.StandardOutput.ReadToEndAsync();
    var error = process.StandardError.ReadToEndAsync();
    await process.WaitForExitAsync();
    watch.Stop();
    if (process.ExitCode != 0 || (await error).Contains("ERROR", StringComparison.Ordinal))
    {
        throw new InvalidOperationException($"kcat {string.Join(' ', arguments)} failed: {await error}");
    }

    _ = await output;
    return watch.Elapsed;
}
