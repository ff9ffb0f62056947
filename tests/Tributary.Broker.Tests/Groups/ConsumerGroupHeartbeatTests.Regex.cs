using Tributary.Broker.Groups;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Tests.Groups;

// SubscribedTopicRegex (ConsumerGroupHeartbeat v1): resolved on the broker against whole topic names, internal topics
// excluded, and resolved again when topics are created or deleted.
public sealed partial class ConsumerGroupHeartbeatTests
{
    [Fact]
    public async Task A_regex_subscription_is_assigned_the_whole_name_matches_and_never_internal_topics()
    {
        _kafka.Broker.CreateTopic("pay-eu", 2, new Dictionary<string, string>());
        _kafka.Broker.CreateTopic("pay-us", 2, new Dictionary<string, string>());
        _kafka.Broker.CreateTopic("prepay-eu", 2, new Dictionary<string, string>());

        var member = await JoinRegexAsync("c1", "pay-.*");
        Assert.Equal(["pay-eu", "pay-us"], TopicsOf(member));

        // "pay" matches no topic: the regex must match the whole name, as RE2/J's matches() does in Kafka.
        Assert.Empty(TopicsOf(await JoinRegexAsync("c2", "pay", group: "exact")));

        // ".*" matches every topic but the internal ones (__consumer_offsets exists: the groups above wrote to it).
        Assert.NotNull(_kafka.Broker.Metadata.Find("__consumer_offsets"));
        Assert.Equal(["orders", "pay-eu", "pay-us", "prepay-eu", Wide], TopicsOf(await JoinRegexAsync("c3", ".*", group: "everything")));
    }

    [Fact]
    public async Task Topics_created_or_deleted_after_the_join_are_resolved_again_at_the_next_heartbeat()
    {
        _kafka.Broker.CreateTopic("pay-eu", 2, new Dictionary<string, string>());
        var member = await JoinRegexAsync("c1", "pay-.*");
        Assert.Equal(["pay-eu"], TopicsOf(member));
        var epoch = member.Epoch;

        _kafka.Broker.CreateTopic("pay-us", 2, new Dictionary<string, string>());
        _kafka.Broker.CreateTopic("refunds", 2, new Dictionary<string, string>());
        await BeatAsync(member);
        Assert.Equal(["pay-eu", "pay-us"], TopicsOf(member));
        Assert.Equal(epoch + 1, member.Epoch);

        Assert.True(_kafka.Broker.DeleteTopic("pay-eu"));
        await BeatAsync(member);
        Assert.Equal(["pay-us"], TopicsOf(member));
    }

    [Fact]
    public async Task Names_and_a_regex_together_and_an_empty_regex_clears_it_as_in_kafka()
    {
        _kafka.Broker.CreateTopic("pay-eu", 2, new Dictionary<string, string>());
        var member = await JoinRegexAsync("c1", "pay-.*", names: [Wide]);
        Assert.Equal(["pay-eu", Wide], TopicsOf(member));
        var described = (await DescribeAsync()).Members.Single();
        Assert.Equal("pay-.*", described.SubscribedTopicRegex);
        Assert.Equal([Wide], described.SubscribedTopicNames);

        // librdkafka sends "" with its topic names: no regex (and Describe shows none).
        var cleared = await CallAsync(new ConsumerGroupHeartbeatRequest { GroupId = Group, MemberId = member.MemberId, MemberEpoch = member.Epoch, SubscribedTopicRegex = "" }, version: 1);
        member.Apply(cleared);
        await BeatAsync(member);
        await BeatAsync(member);
        Assert.Equal([Wide], TopicsOf(member));
        // Kafka's member keeps "" for no regex and describes it as such.
        Assert.Equal("", (await DescribeAsync()).Members.Single().SubscribedTopicRegex);
    }

    [Theory]
    [InlineData("pay-(")]
    [InlineData("(a)\\1")]
    [InlineData("(?<=a)b")]
    [InlineData("(?x)pay#comment")]
    public async Task A_regex_that_does_not_compile_is_INVALID_REGULAR_EXPRESSION(string pattern)
    {
        var response = await CallAsync(RegexJoinRequest(Group, pattern), version: 1);
        Assert.Equal((short)ErrorCode.InvalidRegularExpression, response.ErrorCode);
        Assert.Contains(pattern, response.ErrorMessage);
    }

    [Fact]
    public async Task A_regex_longer_than_the_limit_is_INVALID_REGULAR_EXPRESSION()
    {
        var longest = new string('a', TopicRegex.PatternLengthMax);
        Assert.Equal((short)ErrorCode.None, (await CallAsync(RegexJoinRequest(Group, longest), version: 1)).ErrorCode);
        Assert.Equal((short)ErrorCode.InvalidRegularExpression, (await CallAsync(RegexJoinRequest("other", longest + "a"), version: 1)).ErrorCode);
    }

    private static ConsumerGroupHeartbeatRequest RegexJoinRequest(string group, string pattern, string[]? names = null) => new()
    {
        GroupId = group,
        MemberId = Guid.NewGuid().ToString("N"),
        MemberEpoch = 0,
        RebalanceTimeoutMs = 30_000,
        SubscribedTopicNames = names is null ? null : [.. names],
        SubscribedTopicRegex = pattern,
        TopicPartitions = [],
    };

    private async Task<Consumer> JoinRegexAsync(string clientId, string pattern, string group = Group, string[]? names = null)
    {
        var response = await CallAsync(RegexJoinRequest(group, pattern, names), version: 1, clientId);
        Assert.Equal((short)ErrorCode.None, response.ErrorCode);
        var consumer = new Consumer(response.MemberId!, group);
        consumer.Apply(response);
        return consumer;
    }

    private string[] TopicsOf(Consumer consumer) =>
        [.. consumer.Owned.Select(tp => _kafka.Broker.Metadata.Find(tp.TopicId)!.Name).Distinct().Order(StringComparer.Ordinal)];
}
