"""GroupCommit's inbox wake-ups: every commit that stores new rows is followed by one,
a lone commit's before its caller returns, a burst's together; none is lost on flush."""

import threading

import pytest

from tether.core.inbox import GroupCommit


def rows(*ids):
    return [{"notification_id": i, "object_name": "Opportunity", "record_external_id": None, "payload": {}}
            for i in ids]


class Wakes:
    def __init__(self):
        self.calls = []
        self.arrived = threading.Condition()

    def __call__(self, context, connector, ids):
        with self.arrived:
            self.calls.append((context, connector, list(ids)))
            self.arrived.notify_all()

    def wait_for(self, count, seconds=10.0):
        with self.arrived:
            assert self.arrived.wait_for(lambda: len(self.calls) >= count, seconds), self.calls
        return self.calls


@pytest.fixture
def acme(make_tenant):
    return make_tenant("acme")


def test_a_lone_commit_wakes_before_its_caller_returns(tether_store, acme):
    wakes = Wakes()
    writer = GroupCommit(tether_store, on_commit=wakes)
    assert writer.store_notifications("acme", "mem", rows("n1", "n2"), context="ctx") == ["n1", "n2"]
    assert wakes.calls == [("ctx", "mem", ["n1", "n2"])]


def test_commits_within_the_interval_are_woken_once_together(tether_store, acme):
    wakes = Wakes()
    # An interval no test run outlasts: the second wake comes only from flush().
    writer = GroupCommit(tether_store, on_commit=wakes, wake_interval_seconds=3600)
    writer.store_notifications("acme", "mem", rows("n1"), context="ctx")
    writer.store_notifications("acme", "mem", rows("n2"), context="ctx")
    writer.store_notifications("acme", "mem", rows("n2", "n3"), context="ctx")  # n2 again: not new
    assert wakes.calls == [("ctx", "mem", ["n1"])]
    writer.flush()
    assert wakes.calls == [("ctx", "mem", ["n1"]), ("ctx", "mem", ["n2", "n3"])]
    writer.flush()
    assert len(wakes.calls) == 2


def test_the_writer_makes_an_owed_wake_when_the_interval_is_up(tether_store, acme):
    wakes = Wakes()
    writer = GroupCommit(tether_store, on_commit=wakes, wake_interval_seconds=0.2)
    writer.store_notifications("acme", "mem", rows("n1"))
    writer.store_notifications("acme", "mem", rows("n2"))
    assert wakes.wait_for(2)[1][2] == ["n2"]  # no other message arrives to trigger it


def test_redeliveries_wake_nothing_and_a_failing_wake_fails_no_request(tether_store, acme):
    calls = []

    def failing(context, connector, ids):
        calls.append(ids)
        raise RuntimeError("the job queue is down")

    writer = GroupCommit(tether_store, on_commit=failing, wake_interval_seconds=0)
    assert writer.store_notifications("acme", "mem", rows("n1")) == ["n1"]
    assert writer.store_notifications("acme", "mem", rows("n1")) == []
    assert calls == [["n1"]]


def test_each_tenant_and_connector_has_its_own_interval(tether_store, acme, make_tenant):
    make_tenant("globex")
    wakes = Wakes()
    writer = GroupCommit(tether_store, on_commit=wakes, wake_interval_seconds=3600)
    writer.store_notifications("acme", "mem", rows("a1"), context="acme")
    writer.store_notifications("acme", "other", rows("a2"), context="acme")
    writer.store_notifications("globex", "mem", rows("g1"), context="globex")
    assert sorted(wakes.calls) == [("acme", "mem", ["a1"]), ("acme", "other", ["a2"]), ("globex", "mem", ["g1"])]


def test_concurrent_stores_each_get_their_own_new_ids_and_all_are_woken(tether_store, acme):
    wakes = Wakes()
    writer = GroupCommit(tether_store, on_commit=wakes, wake_interval_seconds=3600)
    results = {}

    def store(n):
        results[n] = writer.store_notifications("acme", "mem", rows(f"n{n}", f"n{(n + 1) % 20}"))

    threads = [threading.Thread(target=store, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    writer.flush()
    assert {i for ids in results.values() for i in ids} == {f"n{n}" for n in range(20)}
    woken = [i for _, _, ids in wakes.calls for i in ids]
    assert sorted(woken) == sorted(f"n{n}" for n in range(20))  # each new id woken once


def test_no_request_is_left_waiting_when_leadership_changes_hands(tether_store, acme):
    # Many short rounds: a request that queues just as the leader finds the queue empty
    # must still be written (by that leader's second look, or by itself), not wait for
    # the timeout (which would raise StoreUnavailable here).
    writer = GroupCommit(tether_store, timeout_seconds=10, max_messages=2)
    errors, stored = [], []

    def send(n):
        try:
            for k in range(40):
                stored.extend(writer.store_notifications("acme", "mem", rows(f"t{n}-{k}")))
        except Exception as exc:  # a stranded request times out with StoreUnavailable
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(stored) == sorted(f"t{n}-{k}" for n in range(12) for k in range(40))


def test_a_request_queued_as_the_leader_finishes_is_written_without_waiting_for_another(tether_store, acme):
    # The narrow window, held open: the leader has found the queue empty but not yet let
    # go when a second request queues and fails to lead. The leader's look after letting
    # go must write it; else it would wait for the timeout (StoreUnavailable).
    writer = GroupCommit(tether_store, timeout_seconds=3)
    drained, follower_failed_to_lead = threading.Event(), threading.Event()
    lead = writer._lead

    def lead_then_hold():
        lead()
        if not drained.is_set():
            drained.set()
            follower_failed_to_lead.wait(5)

    class WatchedLock:
        def __init__(self):
            self.lock = threading.Lock()

        def acquire(self, blocking=True, timeout=-1):
            got = self.lock.acquire(blocking, timeout)
            if not got:
                follower_failed_to_lead.set()
            return got

        def release(self):
            self.lock.release()

    writer._lead, writer._leading = lead_then_hold, WatchedLock()
    results = {}
    leader = threading.Thread(target=lambda: results.update(a=writer.store_notifications("acme", "mem", rows("a"))))
    leader.start()
    assert drained.wait(5)
    results["b"] = writer.store_notifications("acme", "mem", rows("b"))
    leader.join()
    assert results == {"a": ["a"], "b": ["b"]}
