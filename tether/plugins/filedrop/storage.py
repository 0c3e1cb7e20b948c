"""Where the files are: a local folder (a path or a ``file://`` URL).

The connector sees a drop through :class:`LocalDrop`: list an object's files with their
arrival time, and open one. A file *arrives* when it appears in the folder, so its
arrival time is the later of its modification time and its inode change time: copies
that keep an old modification time (``cp -p``, ``rsync -t``) still arrive when they land.
Hidden and partial files (``.name``, ``~name``, ``*.tmp``, ``*.part``) are not listed.

OS errors are classified for the engine: a listed file that is gone by the time it is
read (or a broken link) is transient, and so are I/O errors of network file systems;
a missing or unreadable folder is permanent, with what to fix.
"""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import os
from pathlib import Path
from urllib.parse import unquote, urlparse

from tether.core.errors import ConnectorError, PermanentConnectorError, TransientConnectorError

SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
PARTIAL_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload", ".filepart")
# I/O errors worth retrying: network file systems that hiccup, files busy being replaced.
TRANSIENT_ERRNOS = frozenset({errno.EIO, errno.EAGAIN, errno.EBUSY, errno.ETIMEDOUT, errno.ESTALE, errno.ENOTCONN,
                              errno.EHOSTDOWN, errno.EHOSTUNREACH, errno.ECONNRESET, errno.EINTR})


@dataclasses.dataclass(frozen=True)
class DropFile:
    """One file of an object's folder, in arrival order by ``(arrived_us, tiebreak)``."""

    name: str
    path: Path
    format: str
    size: int
    arrived_us: int  # microseconds since 1970, UTC
    tiebreak: str  # from the name: files arriving in the same microsecond keep one order

    @property
    def key(self) -> tuple[int, str]:
        return (self.arrived_us, self.tiebreak)


def tiebreak_of(name: str) -> str:
    return hashlib.sha1(name.encode("utf-8")).hexdigest()[:16]


def parse_location(location: str) -> Path:
    """A folder path from ``/data/drop``, ``./drop`` or ``file:///data/drop``."""
    if "://" in location:
        parsed = urlparse(location)
        if parsed.scheme != "file":
            raise PermanentConnectorError(
                f"filedrop: location {location!r} uses {parsed.scheme}://, which this version cannot read",
                hint="use a local folder or a file:// URL (mount object storage as a folder to use it)")
        if parsed.netloc not in ("", "localhost"):
            raise PermanentConnectorError(f"filedrop: location {location!r} names host {parsed.netloc!r}",
                                          hint="write file:///absolute/path (three slashes)")
        return Path(unquote(parsed.path))
    return Path(location).expanduser()


def classify_os_error(exc: OSError, doing: str) -> ConnectorError:
    """An OS error as the engine's transient or permanent error, naming what was being done."""
    reason = exc.strerror or str(exc)
    if isinstance(exc, FileNotFoundError):
        return TransientConnectorError(f"filedrop: {doing}: {reason} (the file went away after the folder was listed, "
                                       f"or is a broken link)", code="FILE_GONE",
                                       hint="the next attempt lists the folder again")
    if isinstance(exc, PermissionError):
        return PermanentConnectorError(f"filedrop: {doing}: permission denied", code="PERMISSION",
                                       hint="let the user running tether read the drop folder and its files")
    if exc.errno in TRANSIENT_ERRNOS:
        return TransientConnectorError(f"filedrop: {doing}: {reason}", code=errno.errorcode.get(exc.errno or 0),
                                       hint="retried with backoff")
    return PermanentConnectorError(f"filedrop: {doing}: {reason}", code=errno.errorcode.get(exc.errno or 0))


class LocalDrop:
    """A drop folder on this machine, one sub-folder per object."""

    def __init__(self, location: str) -> None:
        self.location = location
        self.root = parse_location(location)

    def check_root(self) -> None:
        try:
            if self.root.is_dir():
                return
        except OSError as exc:
            raise classify_os_error(exc, f"opening {self.root}") from None
        raise PermanentConnectorError(f"filedrop: the drop folder {self.root} does not exist",
                                      code="NO_FOLDER",
                                      hint="create it, or fix plugins.filedrop.config.location in the tenant manifest")

    def objects(self) -> list[str]:
        """Object names: the sub-folders of the drop, sorted."""
        self.check_root()
        try:
            return sorted(entry.name for entry in os.scandir(self.root)
                          if entry.is_dir() and not entry.name.startswith((".", "_", "~")))
        except OSError as exc:
            raise classify_os_error(exc, f"listing {self.root}") from None

    def files(self, object_name: str) -> list[DropFile]:
        """The object's readable files in arrival order (partial and hidden files left out)."""
        folder = self.root / object_name
        self.check_root()
        found: list[DropFile] = []
        try:
            entries = list(os.scandir(folder))
        except FileNotFoundError:
            raise PermanentConnectorError(f"filedrop: no folder {object_name!r} in {self.root}", code="NO_OBJECT",
                                          hint=f"create {folder}, or read one of: {', '.join(self.objects()) or 'none'}"
                                          ) from None
        except OSError as exc:
            raise classify_os_error(exc, f"listing {folder}") from None
        for entry in entries:
            name = entry.name
            if name.startswith((".", "~")) or name.lower().endswith(PARTIAL_SUFFIXES):
                continue
            file_format = SUFFIXES.get(Path(name).suffix.lower())
            if file_format is None:
                continue
            try:
                info = entry.stat()
            except OSError as exc:
                raise classify_os_error(exc, f"reading {object_name}/{name}") from None
            if not entry.is_file():
                continue
            arrived_ns = max(info.st_mtime_ns, info.st_ctime_ns)
            found.append(DropFile(name=name, path=Path(entry.path), format=file_format, size=info.st_size,
                                  arrived_us=arrived_ns // 1000, tiebreak=tiebreak_of(name)))
        found.sort(key=lambda f: f.key)
        return found
