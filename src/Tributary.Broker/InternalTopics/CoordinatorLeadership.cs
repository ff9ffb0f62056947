using System.Collections.Concurrent;
using Tributary.Protocol;

namespace Tributary.Broker.InternalTopics;

/// <summary>
/// For each partition of an internal topic, whether this broker coordinates the keys that partition holds. A single
/// node always coordinates every partition (<see cref="ActivateAll"/>). In cluster mode it does while it leads the
/// partition: <see cref="Become"/> loads that partition's state on a background task (COORDINATOR_LOAD_IN_PROGRESS
/// meanwhile), <see cref="Resign"/> drops it (NOT_COORDINATOR). Loads and unloads run under <paramref name="gate"/>,
/// so they never overlap; a load that a resignation of its partition overtook does nothing, and one that fails
/// (storage) unloads what it read and keeps answering COORDINATOR_LOAD_IN_PROGRESS until the role changes.
/// </summary>
internal sealed class CoordinatorLeadership(Lock gate, Action<int> load, Action<int> unload, Action<int, Exception> loadFailed)
{
    // Written under gate; read without it by every request (Error). A missing partition is not coordinated.
    private readonly ConcurrentDictionary<int, State> _states = new();
    private readonly Dictionary<int, long> _generations = [];
    private volatile bool _all;

    /// <summary>None while this broker coordinates the partition; else the error its keys' requests answer with.</summary>
    public ErrorCode Error(int partition) => _all ? ErrorCode.None : _states.GetValueOrDefault(partition) switch
    {
        State.Active => ErrorCode.None,
        State.Loading => ErrorCode.CoordinatorLoadInProgress,
        _ => ErrorCode.NotCoordinator,
    };

    /// <summary>Whether this broker coordinates at least one partition (loaded or loading).</summary>
    public bool Any => _all || _states.Values.Any(s => s != State.NotCoordinator);

    /// <summary>Whether a partition this broker leads is still loading (its keys are not known here yet).</summary>
    public bool AnyLoading => !_all && _states.Values.Any(s => s == State.Loading);

    /// <summary>A single node: coordinating every partition from the start (the caller loaded in its constructor).</summary>
    public void ActivateAll() => _all = true;

    /// <summary>This broker became the partition's leader: starts loading it unless it coordinates it already.</summary>
    public void Become(int partition)
    {
        long generation;
        lock (gate)
        {
            if (_states.GetValueOrDefault(partition) != State.NotCoordinator)
            {
                return;
            }

            _states[partition] = State.Loading;
            generation = _generations[partition] = _generations.GetValueOrDefault(partition) + 1;
        }

        _ = Task.Run(() => Load(partition, generation));
    }

    /// <summary>This broker no longer leads the partition: its state is dropped. False when it did not coordinate it.</summary>
    public bool Resign(int partition)
    {
        lock (gate)
        {
            if (_states.GetValueOrDefault(partition) == State.NotCoordinator)
            {
                return false;
            }

            _states[partition] = State.NotCoordinator;
            _generations[partition] = _generations.GetValueOrDefault(partition) + 1;
            unload(partition);
            return true;
        }
    }

    private void Load(int partition, long generation)
    {
        lock (gate)
        {
            if (generation != _generations.GetValueOrDefault(partition))
            {
                return;
            }

            try
            {
                load(partition);
                _states[partition] = State.Active;
            }
            catch (Exception e) when (BrokerCore.IsStorageFailure(e))
            {
                loadFailed(partition, e);
                unload(partition);
            }
        }
    }

    private enum State
    {
        NotCoordinator,
        Loading,
        Active,
    }
}
