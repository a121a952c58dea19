"""What every use case needs: settings, the store, the executor, and warm caches."""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import numpy as np

from residue.config import Settings
from residue.jobs.executor import Executor, InProcessExecutor
from residue.store import Store
from residue.store.db import DEFAULT_SESSION
from residue.store.decompositions import DecompositionRecord
from residue.store.sounds import SoundRecord

K = TypeVar("K")
V = TypeVar("V")


class LRU(Generic[K, V]):
    """A small thread-safe least-recently-used cache.

    :meth:`view` gives a namespace of the same cache (same capacity and lock): a session's view
    never sees another session's entries, even under the same key.
    """

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._items: OrderedDict[tuple[str, K], V] = OrderedDict()
        self._lock = threading.Lock()
        self._space = ""

    def view(self, space: str) -> LRU[K, V]:
        """The namespace ``space`` of this cache (sharing its storage and capacity)."""
        other: LRU[K, V] = LRU.__new__(LRU)
        other._capacity, other._items, other._lock = self._capacity, self._items, self._lock
        other._space = space
        return other

    def get(self, key: K) -> V | None:
        """Return the value for ``key`` (and mark it recent), or None."""
        with self._lock:
            value = self._items.get((self._space, key))
            if value is not None:
                self._items.move_to_end((self._space, key))
            return value

    def put(self, key: K, value: V) -> V:
        """Store ``value``, evicting the least recently used item past capacity."""
        with self._lock:
            self._items[(self._space, key)] = value
            self._items.move_to_end((self._space, key))
            while len(self._items) > self._capacity:
                self._items.popitem(last=False)
        return value

    def get_or_make(self, key: K, make: Callable[[], V]) -> V:
        """Return the cached value or make, store and return it (``make`` runs unlocked)."""
        value = self.get(key)
        return value if value is not None else self.put(key, make())

    def discard(self, predicate: Callable[[K], bool]) -> None:
        """Drop every item of this namespace whose key matches ``predicate``."""
        with self._lock:
            for full in [k for k in self._items if k[0] == self._space and predicate(k[1])]:
                del self._items[full]


@dataclass(frozen=True)
class OpenDecomposition:
    """A decomposition ready to render: the region's STFT and its factors, channels batched.

    ``D`` is complex64 (C, F, T); ``W`` float32 (F, K) is shared by the channels; ``H`` float32
    (C, K, T). ``length`` is the region's length in samples, from ``start_sample`` of the sound.
    """

    record: DecompositionRecord
    sound: SoundRecord
    D: np.ndarray
    W: np.ndarray
    H: np.ndarray
    loss: np.ndarray
    n_fft: int
    hop_length: int
    start_sample: int
    length: int

    @property
    def sr(self) -> int:
        """Sample rate of the sound."""
        return self.sound.sample_rate

    @property
    def n_components(self) -> int:
        """Number of units."""
        return int(self.W.shape[-1])

    @property
    def W_channels(self) -> np.ndarray:
        """W broadcast to (C, F, K), the shape the unit functions take with a stereo H."""
        return np.broadcast_to(self.W, (self.H.shape[0], *self.W.shape))


@dataclass
class Context:
    """The server's state, shared by every socket and request, seen from one session.

    The context opened at start-up is the default session's; :meth:`scoped` gives another
    session's view, whose store and caches see nothing of other sessions.
    """

    settings: Settings
    store: Store
    executor: Executor
    # Decoded sounds and open decompositions (STFT and factors), keyed by id.
    audio: LRU[str, np.ndarray] = field(default_factory=lambda: LRU(16))
    decompositions: LRU[str, OpenDecomposition] = field(default_factory=lambda: LRU(12))

    @property
    def session_id(self) -> str:
        """The session this context sees."""
        return self.store.session_id

    def scoped(self, session_id: str) -> Context:
        """The context seen from ``session_id`` (same database, executor and cache memory)."""
        if session_id == self.session_id:
            return self
        space = "" if session_id == DEFAULT_SESSION else session_id  # the root's namespace
        return dataclasses.replace(
            self,
            store=self.store.scoped(session_id),
            audio=self.audio.view(space),
            decompositions=self.decompositions.view(space),
        )

    @classmethod
    def open(cls, settings: Settings) -> Context:
        """Open the store under ``settings.data_dir`` and start the default executor."""
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        store = Store.open(settings.data_dir)
        store.sweep_orphans()
        return cls(
            settings=settings, store=store, executor=InProcessExecutor(workers=settings.workers)
        )

    def close(self) -> None:
        """Stop the executor and close the store."""
        self.executor.shutdown()
        self.store.close()
