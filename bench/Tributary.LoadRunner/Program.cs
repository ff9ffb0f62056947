using Tributary.LoadRunner;

// tributary-load: one bounded load run against a broker on loopback, one JSON line on stdout.
// Usage: tributary-load --mode produce|consume|pipeline|jetstream [--name value ...]; see LoadOptions.
try
{
    var options = LoadOptions.Parse(args);
    var report = options.Mode == "jetstream" ? JetStreamPublisher.Run(options) : KafkaLoad.Run(options);
    Console.WriteLine(report.ToJsonLine());
    return 0;
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"tributary-load: {e.Message}");
    return 2;
}
