namespace Tributary.Protocol;

public static partial class KafkaApis
{
    private static readonly Dictionary<ApiKey, ApiDescriptor> ByKey = All.ToDictionary(a => a.Key);

    public static ApiDescriptor? Find(short apiKey) => ByKey.GetValueOrDefault((ApiKey)apiKey);
}
