#:project ../src/Tributary.Server/Tributary.Server.csproj
#:property PublishAot=false

// SASL handshakes per second (issue #31): SCRAM-SHA-256 and SCRAM-SHA-512 logins against PLAIN and a bare
// connect + ApiVersions (the ceiling: a connection that does no authentication work), in one invocation.
// Run: bash bench/scram-handshakes.sh (or dotnet run -c Release bench/scram-handshakes.cs [CLIENTS [SECONDS]])
// One embedded in-memory broker on a free loopback port, SASL_PLAINTEXT with PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512
// (user "bench", credentials stored with 4096 iterations). CLIENTS tasks each loop for SECONDS per mode: connect,
// the mode's requests, close. A SCRAM login is SaslHandshake v1 + SaslAuthenticate v2 (client-first) + SaslAuthenticate
// v2 (client-final), and the server's signature is checked. The client derives the salted password once per
// mechanism and reuses it (the broker's salt and iteration count do not change), so the figure is the broker's cost
// plus the loopback round trips, not the client's PBKDF2. Modes run in two rounds, the second in reverse order.
using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Tributary.Broker.Security;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using Tributary.Server;
using Tributary.Server.Client;

const string User = "bench";
const string Password = "bench-secret";
var clients = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 8;
var seconds = args.Length > 1 ? double.Parse(args[1], CultureInfo.InvariantCulture) : 5;
string[] modes = ["ApiVersions", "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"];

var options = new TributaryBrokerOptions();
options.SaslUsers[User] = Password;
await using var broker = await TributaryBroker.StartAsync(options);
var salted = new Dictionary<string, (string Salt, byte[] Key)>(StringComparer.Ordinal);

// Warm-up (JIT on both sides), unmeasured.
foreach (var mode in modes)
{
    await RunAsync(mode, 2, 1);
}

var rates = modes.ToDictionary(m => m, _ => new List<double>());
foreach (var round in new[] { modes, modes.Reverse().ToArray() })
{
    foreach (var mode in round)
    {
        rates[mode].Add(await RunAsync(mode, clients, seconds));
    }
}

Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"clients: {clients}, {seconds} s per mode and round, load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]}"));
Console.WriteLine($"{"mode",-14} {"round 1/s",10} {"round 2/s",10} {"mean/s",10} {"/ ApiVersions",14} {"/ PLAIN",8}");
var ceiling = rates["ApiVersions"].Average();
var plain = rates["PLAIN"].Average();
foreach (var mode in modes)
{
    var r = rates[mode];
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{mode,-14} {r[0],10:F0} {r[1],10:F0} {r.Average(),10:F0} {r.Average() / ceiling,14:F2} {r.Average() / plain,8:F2}"));
}

async Task<double> RunAsync(string mode, int tasks, double runSeconds)
{
    var done = 0L;
    var watch = Stopwatch.StartNew();
    var until = TimeSpan.FromSeconds(runSeconds);
    await Task.WhenAll(Enumerable.Range(0, tasks).Select(_ => Task.Run(async () =>
    {
        while (watch.Elapsed < until)
        {
            await using var client = await KafkaWireClient.ConnectAsync(broker.BootstrapServers);
            await OneAsync(client, mode);
            Interlocked.Increment(ref done);
        }
    })));
    return done / watch.Elapsed.TotalSeconds;
}

async Task OneAsync(KafkaWireClient client, string mode)
{
    if (mode == "ApiVersions")
    {
        var versions = await client.SendAsync<ApiVersionsRequest, ApiVersionsResponse>(ApiKey.ApiVersions, 3, new ApiVersionsRequest { ClientSoftwareName = "bench", ClientSoftwareVersion = "1" });
        Check(versions.ErrorCode, "ApiVersions");
        return;
    }

    var handshake = await client.SendAsync<SaslHandshakeRequest, SaslHandshakeResponse>(ApiKey.SaslHandshake, 1, new SaslHandshakeRequest { Mechanism = mode });
    Check(handshake.ErrorCode, "SaslHandshake");
    if (mode == "PLAIN")
    {
        await AuthenticateAsync(client, Encoding.UTF8.GetBytes($"\0{User}\0{Password}"));
        return;
    }

    var clientFirstBare = $"n={User},r={Convert.ToBase64String(RandomNumberGenerator.GetBytes(18))}";
    var serverFirst = Encoding.UTF8.GetString(await AuthenticateAsync(client, Encoding.UTF8.GetBytes("n,," + clientFirstBare)));
    var fields = serverFirst.Split(',').ToDictionary(f => f[..1], f => f[2..]);
    var hash = Scram.HashOf(mode);
    if (!salted.TryGetValue(mode, out var key) || key.Salt != fields["s"])
    {
        key = (fields["s"], Scram.SaltedPassword(mode, Password, Convert.FromBase64String(fields["s"]), int.Parse(fields["i"], CultureInfo.InvariantCulture)));
        lock (salted)
        {
            salted[mode] = key;
        }
    }

    var clientFinalBare = "c=biws,r=" + fields["r"];
    var authMessage = Encoding.UTF8.GetBytes($"{clientFirstBare},{serverFirst},{clientFinalBare}");
    var clientKey = Scram.Hmac(hash, key.Key, "Client Key"u8);
    var signature = Scram.Hmac(hash, Scram.Hash(hash, clientKey), authMessage);
    var serverFinal = Encoding.UTF8.GetString(await AuthenticateAsync(client, Encoding.UTF8.GetBytes($"{clientFinalBare},p={Convert.ToBase64String(Scram.Xor(clientKey, signature))}")));
    var expected = Scram.Hmac(hash, Scram.Hmac(hash, key.Key, "Server Key"u8), authMessage);
    if (serverFinal != "v=" + Convert.ToBase64String(expected))
    {
        throw new InvalidOperationException($"{mode}: unexpected server-final message {serverFinal}");
    }
}

static async Task<byte[]> AuthenticateAsync(KafkaWireClient client, byte[] bytes)
{
    var response = await client.SendAsync<SaslAuthenticateRequest, SaslAuthenticateResponse>(ApiKey.SaslAuthenticate, 2, new SaslAuthenticateRequest { AuthBytes = bytes });
    Check(response.ErrorCode, $"SaslAuthenticate: {response.ErrorMessage}");
    return response.AuthBytes;
}

static void Check(short errorCode, string what)
{
    if (errorCode != 0)
    {
        throw new InvalidOperationException($"{what} failed with error {errorCode}");
    }
}
