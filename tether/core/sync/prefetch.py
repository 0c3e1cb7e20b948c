"""Reading the next page while the current one is applied.

A connector's ``read`` mostly waits on the network (and parses what arrives); applying a
page mostly runs inside the database driver, which releases the GIL. Running the read
in a thread, at most ``depth`` pages ahead, overlaps the two without letting memory
grow: a page not yet applied is never more than ``depth`` pages away.
"""

from __future__ import annotations

import queue
import threading
from typing import Callable, Generic, Iterator, TypeVar

T = TypeVar("T")
_DONE = object()


class Prefetcher(Generic[T]):
    """Iterate ``source`` in a background thread; exceptions surface where the page would have.

    ``gate`` is asked before each fetch; an exception it returns ends the reading and is
    raised to the consumer after the pages already fetched (a quota guard uses it).
    """

    def __init__(self, source: Iterator[T], *, depth: int = 2, name: str = "tether-sync-read",
                 gate: Callable[[], BaseException | None] | None = None) -> None:
        self._source = source
        self._gate = gate
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            while True:
                refusal = self._gate() if self._gate is not None else None
                if refusal is not None:
                    self._put(("error", refusal))
                    return
                try:
                    item = next(self._source)
                except StopIteration:
                    break
                if not self._put(("item", item)):
                    return
            self._put(("done", _DONE))
        except BaseException as exc:  # handed to the consumer, which decides what it means
            self._put(("error", exc))
        finally:
            close = getattr(self._source, "close", None)
            if close is not None:
                try:
                    close()
                except Exception:  # noqa: BLE001 - closing a generator that already failed
                    pass

    def __iter__(self) -> Iterator[T]:
        try:
            while True:
                kind, value = self._queue.get()
                if kind == "item":
                    yield value
                elif kind == "done":
                    return
                else:
                    raise value
        finally:
            self.close()

    def close(self) -> None:
        """Stop reading ahead (when the consumer stops early) and wait for the thread."""
        self._stop.set()
        self._thread.join(timeout=30)
