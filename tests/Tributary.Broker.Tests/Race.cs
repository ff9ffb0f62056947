using System.Collections.Concurrent;

namespace Tributary.Broker.Tests;

/// <summary>Runs actions on their own threads released together, so they overlap as much as a test can make them.</summary>
internal static class Race
{
    public static void Run(IReadOnlyList<Action> actions)
    {
        using var barrier = new Barrier(actions.Count);
        var failures = new ConcurrentQueue<Exception>();
        var threads = actions.Select(action => new Thread(() =>
        {
            barrier.SignalAndWait();
            try
            {
                action();
            }
            catch (Exception e)
            {
                failures.Enqueue(e);
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        if (!failures.IsEmpty)
        {
            throw new AggregateException(failures);
        }
    }
}
