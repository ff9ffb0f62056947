using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Http;
using Tributary.Broker;
using Tributary.Broker.Dispatch;
using Tributary.Broker.Groups;
using Tributary.Broker.Metadata;
using Tributary.Broker.Security.Authorization;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using Tributary.Protocol.Records;
using Tributary.Storage;
using ConnectionInfo = Tributary.Broker.Dispatch.ConnectionInfo;

namespace Tributary.Server.Admin.Console;

/// <summary>
/// The console's JSON API over one broker's in-process state. Reads go to the metadata store, the partition logs and
/// the group coordinator directly, each checked with the broker's authorizer as the caller's principal; changes go
/// through the broker's own handlers (<see cref="HandlerClient"/>), so they are validated and authorized exactly as a
/// Kafka client's. Every input is checked first: a bad one is a 400 with a message, never an exception page.
/// </summary>
internal sealed partial class ConsoleApi : IDisposable
{
    private const sbyte TopicResourceType = 2;

    private readonly TributaryBroker _broker;
    private readonly HandlerClient _handlers;
    private readonly ConsoleSessions _sessions;
    private readonly ConcurrentDictionary<string, SearchJob> _searches = new(StringComparer.Ordinal);
    // Made on first use: the first RandomNumberGenerator call loads and initialises OpenSSL (libssl and libcrypto,
    // about 4 MB resident), which a broker without TLS or SASL otherwise never needs at start.
    private readonly Lazy<string> _csrfToken = new(() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)));

    private readonly Lazy<ConsoleSampler> _sampler;

    // The admin listener starts before the broker has recovered its logs: nothing here touches the broker's core
    // until a request needs it, and requests answer 503 until it is there.
    public ConsoleApi(TributaryBroker broker, ConsoleOptions options)
    {
        _broker = broker;
        Options = options;
        _handlers = new HandlerClient(() => broker.Dispatcher);
        _sessions = new ConsoleSessions(() => Time);
        _sampler = new Lazy<ConsoleSampler>(() => new ConsoleSampler(TryCore, Time));
    }

    public ConsoleOptions Options { get; }

    private ConsoleSampler Sampler => _sampler.Value;

    private TimeProvider Time => TryCore()?.Time ?? TimeProvider.System;

    private BrokerCore Core => _broker.Core;

    private BrokerCore? TryCore()
    {
        try
        {
            return _broker.Core;
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>Whether the console asks for a login: the broker has a SASL listener.</summary>
    private bool Secured => ConsoleLogin.SaslListener(Core) is not null;

    // ---- sessions ----

    public Task SessionAsync(HttpContext http)
    {
        if (TryCore() is null)
        {
            return StartingAsync(http);
        }

        if (!Secured)
        {
            return WriteAsync(http, 200, new SessionBody(false, null, _csrfToken.Value), ConsoleJsonContext.Default.SessionBody);
        }

        var session = _sessions.Find(http);
        return WriteAsync(http, 200, new SessionBody(true, session?.Connection.Principal, session?.CsrfToken), ConsoleJsonContext.Default.SessionBody);
    }

    public async Task LoginAsync(HttpContext http)
    {
        if (TryCore() is null)
        {
            await StartingAsync(http).ConfigureAwait(false);
            return;
        }

        if (ConsoleLogin.SaslListener(Core) is not { } listener)
        {
            await ErrorAsync(http, 400, "this broker has no SASL listener: the console needs no login").ConfigureAwait(false);
            return;
        }

        if (await ReadAsync(http, ConsoleJsonContext.Default.LoginInput).ConfigureAwait(false) is not { } input)
        {
            return;
        }

        if (string.IsNullOrEmpty(input.Username) || input.Password is null)
        {
            await ErrorAsync(http, 400, "username and password are required").ConfigureAwait(false);
            return;
        }

        if (ConsoleLogin.Authenticate(listener, input.Username, input.Password) is not { } authenticator)
        {
            await Task.Delay(listener.FailedAuthenticationDelay, Time).ConfigureAwait(false);
            await ErrorAsync(http, 401, "invalid username or password").ConfigureAwait(false);
            return;
        }

        var session = _sessions.Create(http, new ConnectionInfo("console", Peer(http), listener.Name) { Authenticator = authenticator });
        await WriteAsync(http, 200, new SessionBody(true, session.Connection.Principal, session.CsrfToken), ConsoleJsonContext.Default.SessionBody).ConfigureAwait(false);
    }

    public Task LogoutAsync(HttpContext http)
    {
        _sessions.End(http);
        return WriteAsync(http, 200, new ResultBody("logged out"), ConsoleJsonContext.Default.ResultBody);
    }

    /// <summary>
    /// The connection the request acts as, or null after answering 401 (no session on a secured broker) or 403 (a
    /// change without the CSRF token).
    /// </summary>
    public async Task<ConnectionInfo?> CallerAsync(HttpContext http)
    {
        ConnectionInfo connection;
        string csrf;
        if (TryCore() is null)
        {
            await StartingAsync(http).ConfigureAwait(false);
            return null;
        }

        _ = Sampler; // sampling for the charts starts with the console's first use
        if (!Secured)
        {
            connection = new ConnectionInfo("console", Peer(http), Core.Config.Listeners[0].Name);
            csrf = _csrfToken.Value;
        }
        else if (_sessions.Find(http) is { } session)
        {
            connection = session.Connection;
            csrf = session.CsrfToken;
        }
        else
        {
            await ErrorAsync(http, 401, "log in first").ConfigureAwait(false);
            return null;
        }

        if (!HttpMethods.IsGet(http.Request.Method)
            && !CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(http.Request.Headers[ConsoleSessions.CsrfHeader].ToString()), Encoding.UTF8.GetBytes(csrf)))
        {
            await ErrorAsync(http, 403, $"missing or wrong {ConsoleSessions.CsrfHeader} header").ConfigureAwait(false);
            return null;
        }

        return connection;
    }

    // ---- overview ----

    public async Task OverviewAsync(HttpContext http)
    {
        if (await CallerAsync(http).ConfigureAwait(false) is not { } caller)
        {
            return;
        }

        var core = Core;
        int partitions = 0, offline = 0;
        long bytes = 0, records = 0;
        var topics = VisibleTopics(core, caller);
        foreach (var topic in topics)
        {
            for (var p = 0; p < topic.PartitionCount; p++)
            {
                partitions++;
                if (core.Logs.TryGet(topic.Name, p, out var log))
                {
                    bytes += log.SizeBytes;
                    records += log.HighWatermark - log.LogStartOffset;
                }
                else
                {
                    offline++;
                }
            }
        }

        var listeners = _broker.Listeners.Select(l => $"{l.Name}://{l.Host}:{l.Port.ToString(CultureInfo.InvariantCulture)}").ToList();
        var brokers = new List<BrokerBody> { new(core.NodeId, core.AdvertisedHost, core.AdvertisedPort, listeners) };
        var groups = GroupLag.GroupIds(core).Count(g => core.Authorizer.Authorize(caller, AclOperation.Describe, AclResourceType.Group, g));
        var (recordsIn, bytesIn, bytesOut, windowMs) = Sampler.Throughput();
        var body = new OverviewBody(core.Metadata.ClusterId, brokers, topics.Count, partitions, offline, bytes, records, groups, recordsIn, bytesIn, bytesOut, windowMs);
        await WriteAsync(http, 200, body, ConsoleJsonContext.Default.OverviewBody).ConfigureAwait(false);
    }

    // ---- topics ----

    public async Task TopicsAsync(HttpContext http)
    {
        if (await CallerAsync(http).ConfigureAwait(false) is not { } caller)
        {
            return;
        }

        var core = Core;
        var list = VisibleTopics(core, caller).Select(t =>
        {
            long size = 0, records = 0;
            foreach (var (_, log) in Logs(core, t))
            {
                size += log.SizeBytes;
                records += log.HighWatermark - log.LogStartOffset;
            }

            return new TopicSummaryBody(t.Name, t.PartitionCount, t.IsInternal, size, records);
        }).ToList();
        await WriteAsync(http, 200, (IReadOnlyList<TopicSummaryBody>)list, ConsoleJsonContext.Default.IReadOnlyListTopicSummaryBody).ConfigureAwait(false);
    }

    public async Task TopicAsync(HttpContext http)
    {
        if (await CallerAsync(http).ConfigureAwait(false) is not { } caller || await TopicOrErrorAsync(http, caller, AclOperation.Describe).ConfigureAwait(false) is not { } topic)
        {
            return;
        }

        var core = Core;
        var partitions = new List<PartitionBody>(topic.PartitionCount);
        for (var p = 0; p < topic.PartitionCount; p++)
        {
            partitions.Add(core.Logs.TryGet(topic.Name, p, out var log)
                ? new PartitionBody(p, log.LogStartOffset, log.HighWatermark, log.SizeBytes, core.NodeId, false)
                : new PartitionBody(p, -1, -1, 0, -1, true));
        }

        var described = await _handlers.SendAsync<DescribeConfigsRequest, DescribeConfigsResponse>(ApiKey.DescribeConfigs, 4, new DescribeConfigsRequest
        {
            Resources = [new() { ResourceType = TopicResourceType, ResourceName = topic.Name, ConfigurationKeys = null }],
        }, caller, http.RequestAborted).ConfigureAwait(false);
        var configs = described.Results.Where(r => r.ErrorCode == 0).SelectMany(r => r.Configs)
            .Select(c => new ConfigBody(c.Name, c.Value, SourceName(c.ConfigSource), c.ReadOnly, c.IsSensitive))
            .OrderBy(c => c.Name, StringComparer.Ordinal).ToList();
        var body = new TopicBody(topic.Name, topic.Id.ToString(), topic.IsInternal, partitions, configs);
        await WriteAsync(http, 200, body, ConsoleJsonContext.Default.TopicBody).ConfigureAwait(false);
    }

    public async Task CreateTopicAsync(HttpContext http)
    {
        if (await CallerAsync(http).ConfigureAwait(false) is not { } caller
            || await ReadAsync(http, ConsoleJsonContext.Default.CreateTopicInput).ConfigureAwait(false) is not { } input)
        {
            return;
        }

        if ((string.IsNullOrWhiteSpace(input.Name) ? "a topic needs a name" : MetadataStore.ValidateTopicName(input.Name)) is { } nameError)
        {
            await ErrorAsync(http, 400, nameError).ConfigureAwait(false);
            return;
        }

        if (input.Partitions is { } count && (count < 1 || count > Broker.Config.BrokerConfig.PartitionsPerTopicMax))
        {
            await ErrorAsync(http, 400, $"partitions must be between 1 and {Broker.Config.BrokerConfig.PartitionsPerTopicMax}").ConfigureAwait(false);
            return;
        }

        var request = new CreateTopicsRequest { TimeoutMs = 30_000 };
        request.Topics.Add(new()
        {
            Name = input.Name!,
            NumPartitions = input.Partitions ?? -1,
            ReplicationFactor = -1,
            Configs = [.. (input.Configs ?? []).Select(c => new CreateTopicsRequest.CreatableTopicConfig { Name = c.Key, Value = c.Value })],
        });
        var response = await _handlers.SendAsync<CreateTopicsRequest, CreateTopicsResponse>(ApiKey.CreateTopics, 7, request, caller, http.RequestAborted).ConfigureAwait(false);
        var result = response.Topics.Single();
        await AnswerAsync(http, result.ErrorCode, result.ErrorMessage, $"created topic {input.Name} with {result.NumPartitions} partitions").ConfigureAwait(false);
    }

    public async Task DeleteTopicAsync(HttpContext http)
    {
        if (await CallerAsync(http).ConfigureAwait(false) is not { } caller)
        {
            return;
        }

        var name = Route(http, "topic");
        var response = await _handlers.SendAsync<DeleteTopicsRequest, DeleteTopicsResponse>(ApiKey.DeleteTopics, 6, new DeleteTopicsRequest
        {
            Topics = [new() { Name = name }],
            TimeoutMs = 30_000,
        }, caller, http.RequestAborted).ConfigureAwait(false);
        var result = response.Responses.Single();
        await AnswerAsync(http, result.ErrorCode, result.ErrorMessage, $"deleted topic {name}").ConfigureAwait(false);
    }

    public async Task AlterConfigsAsync(HttpContext http)
    {
        if (await CallerAsync(http).ConfigureAwait(false) is not { } caller
            || await ReadAsync(http, ConsoleJsonContext.Default.AlterConfigsInput).ConfigureAwait(false) is not { } input)
        {
            return;
        }

        var set = input.Set ?? [];
        var delete = input.Delete ?? [];
        if (set.Count + delete.Count == 0)
        {
            await ErrorAsync(http, 400, "nothing to change: give set and/or delete").ConfigureAwait(false);
            return;
        }

        var name = Route(http, "topic");
        var resource = new IncrementalAlterConfigsRequest.AlterConfigsResource { ResourceType = TopicResourceType, ResourceName = name };
        resource.Configs.AddRange(set.Select(kv => new IncrementalAlterConfigsRequest.AlterableConfig { Name = kv.Key, Value = kv.Value, ConfigOperation = 0 }));
        resource.Configs.AddRange(delete.Select(key => new IncrementalAlterConfigsRequest.AlterableConfig { Name = key, Value = null, ConfigOperation = 1 }));
        var response = await _handlers.SendAsync<IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse>(ApiKey.IncrementalAlterConfigs, 1,
            new IncrementalAlterConfigsRequest { Resources = [resource] }, caller, http.RequestAborted).ConfigureAwait(false);
        var result = response.Responses.Single();
        await AnswerAsync(http, result.ErrorCode, result.ErrorMessage, $"altered {set.Count + delete.Count} configs of {name}").ConfigureAwait(false);
    }

    // ---- helpers ----

    private static List<TopicInfo> VisibleTopics(BrokerCore core, ConnectionInfo caller) =>
        [.. core.Metadata.Topics.Where(t => core.Authorizer.Authorize(caller, AclOperation.Describe, AclResourceType.Topic, t.Name)).OrderBy(t => t.Name, StringComparer.Ordinal)];

    private static IEnumerable<(int Partition, PartitionLog Log)> Logs(BrokerCore core, TopicInfo topic)
    {
        for (var p = 0; p < topic.PartitionCount; p++)
        {
            if (core.Logs.TryGet(topic.Name, p, out var log))
            {
                yield return (p, log);
            }
        }
    }

    /// <summary>The route's topic if it exists and the caller may do <paramref name="operation"/> on it; else answers 403/404.</summary>
    private async Task<TopicInfo?> TopicOrErrorAsync(HttpContext http, ConnectionInfo caller, AclOperation operation)
    {
        var name = Route(http, "topic");
        var core = Core;
        if (!core.Authorizer.Authorize(caller, operation, AclResourceType.Topic, name))
        {
            await ErrorAsync(http, 403, $"{caller.Principal} may not {operation.ToString().ToUpperInvariant()} topic {name}").ConfigureAwait(false);
            return null;
        }

        if (core.Metadata.Find(name) is not { } topic)
        {
            await ErrorAsync(http, 404, $"no topic {name}").ConfigureAwait(false);
            return null;
        }

        return topic;
    }

    private static string Route(HttpContext http, string name) => http.Request.RouteValues[name] as string ?? "";

    private static IPEndPoint? Peer(HttpContext http) =>
        http.Connection.RemoteIpAddress is { } address ? new IPEndPoint(address, http.Connection.RemotePort) : null;

    private static string SourceName(sbyte source) => source switch
    {
        1 => "DYNAMIC_TOPIC_CONFIG",
        2 => "DYNAMIC_BROKER_CONFIG",
        3 => "DYNAMIC_DEFAULT_BROKER_CONFIG",
        4 => "STATIC_BROKER_CONFIG",
        5 => "DEFAULT_CONFIG",
        8 => "GROUP_CONFIG",
        _ => "UNKNOWN",
    };

    /// <summary>A handler's error code as an HTTP answer: 200 with <paramref name="success"/>, else the error named as Kafka names it.</summary>
    private static Task AnswerAsync(HttpContext http, short code, string? message, string success)
    {
        if (code == 0)
        {
            return WriteAsync(http, 200, new ResultBody(success), ConsoleJsonContext.Default.ResultBody);
        }

        var error = (ErrorCode)code;
        var status = error switch
        {
            ErrorCode.TopicAuthorizationFailed or ErrorCode.GroupAuthorizationFailed or ErrorCode.ClusterAuthorizationFailed => 403,
            ErrorCode.UnknownTopicOrPartition or ErrorCode.GroupIdNotFound => 404,
            ErrorCode.TopicAlreadyExists or ErrorCode.UnknownMemberId or ErrorCode.IllegalGeneration or ErrorCode.NonEmptyGroup or ErrorCode.RebalanceInProgress => 409,
            _ => 400,
        };
        return ErrorAsync(http, status, string.IsNullOrEmpty(message) ? KafkaName(error) : $"{KafkaName(error)}: {message}");
    }

    /// <summary>TopicAlreadyExists → TOPIC_ALREADY_EXISTS, as Kafka's Errors enum prints.</summary>
    private static string KafkaName(ErrorCode error) => KafkaNameRegex().Replace(error.ToString(), "$1_$2").ToUpperInvariant();

    [System.Text.RegularExpressions.GeneratedRegex("([a-z0-9])([A-Z])")]
    private static partial System.Text.RegularExpressions.Regex KafkaNameRegex();

    private static Task StartingAsync(HttpContext http) => ErrorAsync(http, 503, "the broker is starting (or stopped): try again shortly");

    public static Task ErrorAsync(HttpContext http, int status, string message) =>
        WriteAsync(http, status, new ErrorBody(message), ConsoleJsonContext.Default.ErrorBody);

    public static async Task WriteAsync<T>(HttpContext http, int status, T value, JsonTypeInfo<T> type)
    {
        http.Response.StatusCode = status;
        http.Response.ContentType = "application/json; charset=utf-8";
        http.Response.Headers.CacheControl = "no-store";
        await JsonSerializer.SerializeAsync(http.Response.Body, value, type, http.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>The request's JSON body, or null after answering 400 (missing, too large, or not the expected shape).</summary>
    private async Task<T?> ReadAsync<T>(HttpContext http, JsonTypeInfo<T> type)
        where T : class
    {
        if (http.Request.ContentLength is not { } length || length > Options.RequestBytesMax)
        {
            await ErrorAsync(http, 400, $"the body must be JSON with a Content-Length of at most {Options.RequestBytesMax} bytes").ConfigureAwait(false);
            return null;
        }

        try
        {
            return await JsonSerializer.DeserializeAsync(http.Request.Body, type, http.RequestAborted).ConfigureAwait(false)
                ?? throw new JsonException("the body is null");
        }
        catch (JsonException e)
        {
            await ErrorAsync(http, 400, "the body is not valid JSON for this request: " + e.Message).ConfigureAwait(false);
            return null;
        }
    }

    /// <summary>A query parameter as a long within bounds; null when absent; an error message when malformed.</summary>
    private static (long? Value, string? Error) QueryLong(HttpContext http, string name, long min, long max)
    {
        var text = http.Request.Query[name].ToString();
        if (text.Length == 0)
        {
            return (null, null);
        }

        return long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max
            ? (value, null)
            : (null, $"{name} must be a whole number between {min} and {max}, not \"{text}\"");
    }

    public void Dispose()
    {
        if (_sampler.IsValueCreated)
        {
            _sampler.Value.Dispose();
        }

        foreach (var search in _searches.Values)
        {
            search.Cancel();
            search.Dispose();
        }
    }
}
