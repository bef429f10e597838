"""The collector's output file and its checkpoint: restart after a crash with no gap and no repeat.

The output is JSON Lines, one vendor record a line. The checkpoint holds each log's vendor cursor AND
the output's length (bytes, lines) once the page the cursor follows was written and fsynced. A page goes:

1. append its records to the output, fsync;
2. hand them to the sinks (Redis: idempotent, records are de-duplicated by their vendor id);
3. replace the checkpoint atomically (temporary file, fsync, rename, fsync of the directory).

A crash before 3 leaves the old checkpoint: on start the output is cut back to the length it records
(the page written but not checkpointed goes) and the page is fetched again from the old cursor. A crash
after 3 resumes after the page. The checkpoint never names more bytes than are on disk, because the
output is fsynced before it is written. An exclusive lock on the output keeps a second collector off it.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import msgspec

from pushguard.model import InputError
from pushguard.model.files import open_private

FORMAT = 1


class Checkpoint(msgspec.Struct, kw_only=True):
    format: int = FORMAT
    vendor: str
    output: str  # the output file this checkpoint belongs to (absolute path)
    output_bytes: int = 0  # the output's length after the last checkpointed page
    output_lines: int = 0  # records in it
    cursors: dict[str, Any] = msgspec.field(default_factory=dict)  # log name -> that log's vendor cursor
    saved_at: str = ""  # wall-clock time of the save (for people; resumption never reads it)


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Checkpoint)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save_checkpoint(path: Path, checkpoint: Checkpoint) -> None:
    """Replace the checkpoint file atomically: a reader sees the old one or the new one, whole."""
    checkpoint.saved_at = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    temporary = path.with_name(path.name + ".tmp")
    with open_private(temporary, "wb") as handle:
        handle.write(_encoder.encode(checkpoint) + b"\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    _fsync_dir(path.parent)


def load_checkpoint(path: Path) -> Checkpoint | None:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise InputError(f"{path}: cannot read the checkpoint: {exc.strerror or exc}") from None
    try:
        checkpoint = _decoder.decode(data)
    except msgspec.DecodeError as exc:
        raise InputError(f"{path}: not a collector checkpoint ({exc})") from None
    if checkpoint.format != FORMAT:
        raise InputError(f"{path}: checkpoint format {checkpoint.format}, this version reads {FORMAT}")
    return checkpoint


class CollectedFile:
    """The output file and its checkpoint, opened for one collector run (see the module docstring)."""

    def __init__(self, output: Path, checkpoint_path: Path, vendor: str) -> None:
        self.output = output.absolute()
        self.checkpoint_path = checkpoint_path
        self.dropped_bytes = 0  # written after the last checkpoint by a run that crashed, now cut off
        self.resumed = False
        self._size = 0  # bytes in the output (tracked: tell() of an append handle lags a truncation)
        found = load_checkpoint(checkpoint_path)
        self._handle = self._open_locked()
        try:
            self.checkpoint = self._adopt(found, vendor)
        except BaseException:
            self._handle.close()
            raise

    def _open_locked(self) -> IO[bytes]:
        created = not self.output.exists()
        try:
            handle = open_private(self.output, "ab", buffering=0)  # unbuffered: nothing written later
        except OSError as exc:
            raise InputError(f"{self.output}: cannot open for writing: {exc.strerror or exc}") from None
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise InputError(f"{self.output}: another collector is writing it") from None
        if created:
            _fsync_dir(self.output.parent)
        return handle

    def _adopt(self, found: Checkpoint | None, vendor: str) -> Checkpoint:
        size = os.fstat(self._handle.fileno()).st_size
        if found is None:
            if size:
                raise InputError(
                    f"{self.output} already holds {size} bytes but {self.checkpoint_path} does not exist: "
                    "give the checkpoint that belongs to it, or a new output file"
                )
            checkpoint = Checkpoint(vendor=vendor, output=str(self.output))
            save_checkpoint(self.checkpoint_path, checkpoint)
            return checkpoint
        if found.vendor != vendor:
            raise InputError(f"{self.checkpoint_path} is a {found.vendor} checkpoint, not {vendor}")
        if Path(found.output) != self.output:
            raise InputError(
                f"{self.checkpoint_path} belongs to the output {found.output}, not {self.output}"
            )
        if size < found.output_bytes:
            raise InputError(
                f"{self.output} has {size} bytes but its checkpoint says {found.output_bytes} were written "
                "and synced: the file was truncated or replaced; restore it or start a new output"
            )
        if size > found.output_bytes:
            # the tail of a page written but never checkpointed: it will be fetched again
            os.ftruncate(self._handle.fileno(), found.output_bytes)
            os.fsync(self._handle.fileno())
            self.dropped_bytes = size - found.output_bytes
        self._size = found.output_bytes
        self.resumed = True
        return found

    def cursor(self, log: str) -> Any:
        return self.checkpoint.cursors.get(log)

    def set_cursor(self, log: str, cursor: Any) -> None:
        """A cursor with no page behind it (the starting point): checkpointed at once."""
        self._save(log, cursor, self.checkpoint.output_bytes, self.checkpoint.output_lines)

    def append(self, lines: Sequence[bytes]) -> int:
        """Write records (one JSON text each, no newline) and fsync; the line number of the first one."""
        first = self.checkpoint.output_lines + 1
        if lines:
            data = memoryview(b"".join(line + b"\n" for line in lines))
            written = 0
            while written < len(data):
                written += self._handle.write(data[written:]) or 0
            os.fsync(self._handle.fileno())
            self._size += written
        return first

    def commit(self, log: str, cursor: Any, lines: int) -> None:
        """The page appended last is durable: record where the log now stands and the output's length."""
        self._save(log, cursor, self._size, self.checkpoint.output_lines + lines)

    def _save(self, log: str, cursor: Any, size: int, lines: int) -> None:
        # the checkpoint in memory changes only once the new one is on disk
        cursors = {**self.checkpoint.cursors, log: cursor}
        updated = msgspec.structs.replace(
            self.checkpoint, cursors=cursors, output_bytes=size, output_lines=lines
        )
        save_checkpoint(self.checkpoint_path, updated)
        self.checkpoint = updated

    def rollback(self) -> None:
        """Cut off what was appended since the last commit (a sink failed): the page is fetched again."""
        os.ftruncate(self._handle.fileno(), self.checkpoint.output_bytes)
        os.fsync(self._handle.fileno())
        self._size = self.checkpoint.output_bytes

    def close(self) -> None:
        self._handle.close()  # releases the lock
