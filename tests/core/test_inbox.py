"""GroupCommit's inbox wake-ups: every commit that stores new rows is followed by one,
a lone commit's before its caller returns, a burst's together; none is lost on flush."""

import threading
import time

import pytest

from tether.core.errors import StoreUnavailable
from tether.core.inbox import GroupCommit, _Waiting


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


def until(condition, seconds=5.0):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.001)


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


def test_a_leader_answers_its_own_request_and_hands_the_next_write_to_a_waiting_thread(tether_store, acme):
    # A request that queues while the leader writes is written by its own thread, handed
    # the lead: the leader does not write it before answering its own request.
    writer = GroupCommit(tether_store, timeout_seconds=10)
    writes, b_queued = [], threading.Event()
    write = writer._write

    def recorded_write(tenant_id, group):
        if not writes:  # the leader's own round: hold it until b has queued behind it
            assert b_queued.wait(5)
        writes.append((threading.current_thread().name, [n["notification_id"] for w in group for n in w.notifications]))
        write(tenant_id, group)

    writer._write = recorded_write
    results = {}
    a = threading.Thread(target=lambda: results.update(a=writer.store_notifications("acme", "mem", rows("a"))),
                         name="a")
    b = threading.Thread(target=lambda: results.update(b=writer.store_notifications("acme", "mem", rows("b"))),
                         name="b")
    a.start()
    until(lambda: writer._led and not writer._queue)  # a has taken its own round
    b.start()
    until(lambda: writer._queue)
    b_queued.set()
    a.join(5)
    b.join(5)
    assert results == {"a": ["a"], "b": ["b"]}
    assert writes == [("a", ["a"]), ("b", ["b"])]


def test_a_request_that_gives_up_is_not_stored_and_the_writer_goes_on(tether_store, acme):
    writer = GroupCommit(tether_store, timeout_seconds=0.3)
    release = threading.Event()
    write = writer._write

    def slow_first_write(tenant_id, group):
        if not release.is_set():
            release.wait(5)
        write(tenant_id, group)

    writer._write = slow_first_write
    results = {}
    a = threading.Thread(target=lambda: results.update(a=writer.store_notifications("acme", "mem", rows("a"))))
    a.start()
    until(lambda: writer._led and not writer._queue)
    with pytest.raises(StoreUnavailable, match="did not finish"):
        writer.store_notifications("acme", "mem", rows("b"))
    release.set()
    a.join(5)
    assert results == {"a": ["a"]}
    assert writer.store_notifications("acme", "mem", rows("b", "c")) == ["b", "c"]  # b was not written before


def test_a_lead_handed_to_a_request_that_gave_up_passes_to_the_next(tether_store, acme):
    # The instant a leader hands on to a request whose wait has just run out: that
    # request's thread must pass the lead on, or no one would write again.
    writer = GroupCommit(tether_store, timeout_seconds=0.01)
    gave_up, heir = _Waiting("acme", "mem", rows("x")), _Waiting("acme", "mem", rows("y"))
    writer._led = True
    writer._queue.extend([gave_up, heir])
    gave_up.leads = True
    with pytest.raises(StoreUnavailable):
        writer._give_up(gave_up)
    assert list(writer._queue) == [heir] and heir.leads and heir.done.acquire(blocking=False)
