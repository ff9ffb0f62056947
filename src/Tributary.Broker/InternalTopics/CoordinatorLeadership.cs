using Tributary.Protocol;

namespace Tributary.Broker.InternalTopics;

/// <summary>
/// Whether this broker coordinates the keys of an internal topic. A single node always does (<see cref="Activate"/>).
/// In cluster mode it does while it leads the topic's partition: <see cref="Become"/> loads the state on a background
/// task (COORDINATOR_LOAD_IN_PROGRESS meanwhile), <see cref="Resign"/> drops it (NOT_COORDINATOR). Loads and unloads
/// run under <paramref name="gate"/>, so they never overlap; a load that a resignation overtook does nothing, and one
/// that fails (storage) unloads what it read and keeps answering COORDINATOR_LOAD_IN_PROGRESS until the role changes.
/// </summary>
internal sealed class CoordinatorLeadership(Lock gate, Action load, Action unload, Action<Exception> loadFailed)
{
    private volatile State _state;
    private long _generation;

    /// <summary>None while this broker coordinates; else the error the coordinator's requests answer with.</summary>
    public ErrorCode Error => _state switch
    {
        State.Active => ErrorCode.None,
        State.Loading => ErrorCode.CoordinatorLoadInProgress,
        _ => ErrorCode.NotCoordinator,
    };

    /// <summary>A single node: coordinating from the start (the caller loaded in its constructor).</summary>
    public void Activate() => _state = State.Active;

    /// <summary>This broker became the partition's leader: starts loading unless it coordinates already.</summary>
    public void Become()
    {
        long generation;
        lock (gate)
        {
            if (_state != State.NotCoordinator)
            {
                return;
            }

            _state = State.Loading;
            generation = ++_generation;
        }

        _ = Task.Run(() => Load(generation));
    }

    /// <summary>This broker no longer leads the partition: the state is dropped. False when it did not coordinate.</summary>
    public bool Resign()
    {
        lock (gate)
        {
            if (_state == State.NotCoordinator)
            {
                return false;
            }

            _state = State.NotCoordinator;
            _generation++;
            unload();
            return true;
        }
    }

    private void Load(long generation)
    {
        lock (gate)
        {
            if (generation != _generation)
            {
                return;
            }

            try
            {
                load();
                _state = State.Active;
            }
            catch (Exception e) when (BrokerCore.IsStorageFailure(e))
            {
                loadFailed(e);
                unload();
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
