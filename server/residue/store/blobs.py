"""Content-addressed blob files, and array (de)serialisation without pickle.

A blob is named by the sha256 of its bytes and lives at ``root/ab/cdef...`` (the first two hex
digits make the folder). Writes are atomic and durable: a temporary file in the same folder is
written, flushed and fsynced, renamed over the final name, and the folder is fsynced, so a crash
leaves either the whole blob or a stray temporary file that :meth:`BlobStore.sweep` removes.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from residue.errors import NotFound, ParameterError

#: Prefix of temporary files; never a valid digest, so sweep can tell them apart.
TMP_PREFIX = ".tmp-"

_PUT_ATTEMPTS = 3
_DIGEST = re.compile(r"[0-9a-f]{64}")
_FANOUT = re.compile(r"[0-9a-f]{2}")
_REST = re.compile(r"[0-9a-f]{62}")
# A fixed timestamp makes npz bytes (and so their digests) depend on the arrays only.
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def check_digest(digest: str) -> str:
    """Return ``digest`` if it is 64 lowercase hex characters, else raise ParameterError."""
    if not isinstance(digest, str) or _DIGEST.fullmatch(digest) is None:
        raise ParameterError(f"blob digest {digest!r} must be 64 lowercase hex characters")
    return digest


def _fsync_dir(path: Path) -> None:
    """Make a rename or unlink in ``path`` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class BlobStore:
    """Content-addressed files under ``root``.

    Parameters
    ----------
    root : Path
        The folder of blobs; created if missing.

    Examples
    --------
    >>> import tempfile
    >>> blobs = BlobStore(Path(tempfile.mkdtemp()))
    >>> digest = blobs.put(b"hello")
    >>> digest[:8], blobs.get(digest)
    ('2cf24dba', b'hello')
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, digest: str) -> Path:
        """Return the file of ``digest`` (which need not exist)."""
        check_digest(digest)
        return self.root / digest[:2] / digest[2:]

    def exists(self, digest: str) -> bool:
        """Whether the blob ``digest`` is stored."""
        return self.path(digest).is_file()

    def put(self, data: bytes | bytearray | memoryview) -> str:
        """Store ``data`` durably and return its sha256 hex digest.

        Storing bytes that are already present writes nothing (and refreshes the file's
        modification time, so that an age-limited sweep spares it).
        """
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise ParameterError(f"blob data must be bytes, got {type(data).__name__}")
        digest = hashlib.sha256(data).hexdigest()
        final = self.path(digest)
        if final.is_file():
            with contextlib.suppress(OSError):
                os.utime(final)
            return digest
        folder = final.parent
        if not folder.is_dir():
            folder.mkdir(parents=True, exist_ok=True)
            _fsync_dir(self.root)
        for attempt in range(_PUT_ATTEMPTS):
            fd, tmp_name = tempfile.mkstemp(prefix=TMP_PREFIX, dir=folder)
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp_name, final)
            except FileNotFoundError:
                # A concurrent sweep took the temporary file; write it again.
                if attempt + 1 == _PUT_ATTEMPTS:
                    raise
                continue
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp_name)
                raise
            break
        _fsync_dir(folder)
        return digest

    def get(self, digest: str) -> bytes:
        """Return the bytes of blob ``digest``.

        Raises
        ------
        NotFound
            If no such blob is stored.
        """
        try:
            return self.path(digest).read_bytes()
        except FileNotFoundError:
            raise NotFound(f"no blob '{digest}'") from None

    def delete(self, digest: str) -> bool:
        """Remove blob ``digest``; returns whether it existed."""
        try:
            self.path(digest).unlink()
        except FileNotFoundError:
            return False
        return True

    def release(self, digests: Iterable[str], *, referenced: Callable[[str], bool]) -> int:
        """Delete those of ``digests`` for which ``referenced`` is false; return how many.

        Call it after the rows were deleted and committed, holding the database lock, so that no
        row can start naming a blob between the check and the unlink. Failures to unlink are
        left for :meth:`sweep`.
        """
        removed = 0
        for digest in set(digests):
            if not referenced(digest):
                with contextlib.suppress(OSError):
                    removed += self.delete(digest)
        return removed

    def digests(self) -> set[str]:
        """Every stored blob's digest."""
        found = set()
        for folder in self.root.iterdir():
            if folder.is_dir() and _FANOUT.fullmatch(folder.name):
                for entry in folder.iterdir():
                    if _REST.fullmatch(entry.name) and entry.is_file():
                        found.add(folder.name + entry.name)
        return found

    def sweep(self, referenced: set[str], *, min_age_s: float = 0.0) -> int:
        """Remove blobs not in ``referenced`` and stray temporary files; return how many.

        Files that do not look like blobs or temporaries are left alone. A blob written for a row
        not yet committed looks unreferenced: callers re-check under the database lock before
        committing, or pass ``min_age_s`` so that files younger than that are spared.

        Parameters
        ----------
        referenced : set of str
            Digests that some record still names.
        min_age_s : float
            Spare files modified less than this many seconds ago.

        Returns
        -------
        int
            The number of files removed.
        """
        cutoff = time.time() - min_age_s
        removed = 0
        for folder in self.root.iterdir():
            if not (folder.is_dir() and _FANOUT.fullmatch(folder.name)):
                continue
            changed = False
            for entry in folder.iterdir():
                is_blob = _REST.fullmatch(entry.name) is not None
                if is_blob and folder.name + entry.name in referenced:
                    continue
                if not (is_blob or entry.name.startswith(TMP_PREFIX)) or not entry.is_file():
                    continue
                try:
                    if min_age_s > 0 and entry.stat().st_mtime > cutoff:
                        continue
                    entry.unlink()
                except FileNotFoundError:
                    continue
                removed += 1
                changed = True
            if changed:
                _fsync_dir(folder)
        return removed


def array_to_bytes(a: np.ndarray) -> bytes:
    """Serialise one array as ``.npy`` bytes (no pickle: object arrays are refused).

    Examples
    --------
    >>> bytes_to_array(array_to_bytes(np.arange(3, dtype=np.float32)))
    array([0., 1., 2.], dtype=float32)
    """
    if not isinstance(a, np.ndarray):
        raise ParameterError(f"expected a numpy array, got {type(a).__name__}")
    if a.dtype.hasobject:
        raise ParameterError(f"arrays of dtype {a.dtype} cannot be stored (no pickle)")
    buf = io.BytesIO()
    np.save(buf, a, allow_pickle=False)
    return buf.getvalue()


def bytes_to_array(b: bytes) -> np.ndarray:
    """Read ``.npy`` bytes written by :func:`array_to_bytes` (never unpickles)."""
    try:
        out = np.load(io.BytesIO(b), allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise ParameterError(f"not a .npy array: {exc}") from None
    if not isinstance(out, np.ndarray):
        out.close()
        raise ParameterError("not a .npy array: got an .npz archive")
    return out


def arrays_to_bytes(**arrays: np.ndarray) -> bytes:
    """Serialise named arrays as ``.npz`` bytes (what ``np.savez`` writes, without pickle).

    The archive's timestamps are fixed, so equal arrays give equal bytes.

    Examples
    --------
    >>> out = bytes_to_arrays(arrays_to_bytes(W=np.ones((2, 1)), loss=np.zeros(3)))
    >>> sorted(out), out["W"].shape
    (['W', 'loss'], (2, 1))
    """
    if not arrays:
        raise ParameterError("at least one array is needed")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, a in arrays.items():
            if not name or "/" in name or name.startswith("."):
                raise ParameterError(f"array name {name!r} is not allowed")
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_STORED
            zf.writestr(info, array_to_bytes(a))
    return buf.getvalue()


def bytes_to_arrays(b: bytes) -> dict[str, np.ndarray]:
    """Read ``.npz`` bytes into a dict of arrays (never unpickles)."""
    try:
        loaded = np.load(io.BytesIO(b), allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise ParameterError(f"not an .npz archive: {exc}") from None
    if isinstance(loaded, np.ndarray):
        raise ParameterError("not an .npz archive: got a single .npy array")
    try:
        return {name: loaded[name] for name in loaded.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise ParameterError(f"not an .npz archive: {exc}") from None
    finally:
        loaded.close()
