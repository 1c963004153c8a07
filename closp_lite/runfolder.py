"""Run folders that no second process and no careless re-run can destroy (chapter 5).

A run folder (written by ``closp-lite train``) is guarded by :class:`RunFolder`:

* an existing run is refused unless the caller resumes it or asks to overwrite it, and
  overwriting removes only the files a run writes (:data:`RUN_FILES`), never anything else;
* while a process writes the folder it holds ``.lock`` (JSON with pid, host and start time);
  a second process is refused, naming the holder. A lock left by a process that no longer runs
  on this host is stale and taken over;
* resuming with settings other than the saved ones is refused, naming each difference
  (:func:`check_same_settings`).
"""

from __future__ import annotations

import json
import os
import pickle
import socket
import time
from collections.abc import Collection
from pathlib import Path
from typing import Any, Self

LOCK = ".lock"
RUN_FILES: tuple[str, ...] = ("config.json", "model.pt", "train_config.json", "launch.json", "log.csv", "checkpoint.pt")
"""Every file a training run writes; ``--overwrite`` removes these and nothing else."""

__all__ = ["LOCK", "RUN_FILES", "RunFolder", "RunFolderError", "check_same_settings", "load_torch_file"]


class RunFolderError(ValueError):
    """A run folder cannot be used as asked (existing run, locked, other settings)."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def _read_lock(path: Path) -> dict[str, Any]:
    try:
        return dict(json.loads(path.read_text()))
    except (OSError, ValueError):
        return {}  # a lock being written, or garbage: treated as held by an unknown process


class RunFolder:
    """Guard a run folder while a process writes it; use as a context manager (chapter 5).

    Args:
        path: the run folder.
        resume: continue an existing run (its files are kept).
        overwrite: replace an existing run (only :data:`RUN_FILES` are removed).
        enabled: ``False`` on processes that do not write (the non-zero ranks under torchrun).

    Raises:
        RunFolderError: for an existing run without ``resume``/``overwrite``, both flags at
            once, or a folder locked by a live process.
    """

    def __init__(self, path: str | Path, resume: bool = False, overwrite: bool = False, enabled: bool = True) -> None:
        if resume and overwrite:
            raise RunFolderError(f"{path}: choose --resume or --overwrite, not both")
        self.path = Path(path)
        self.resume = resume
        self.overwrite = overwrite
        self.enabled = enabled
        self._held = False
        self._created = False

    def existing_files(self) -> list[str]:
        """The run files already in the folder."""
        return [name for name in RUN_FILES if (self.path / name).exists()]

    def __enter__(self) -> Self:
        if not self.enabled:
            return self
        self._created = not self.path.exists()
        self.path.mkdir(parents=True, exist_ok=True)
        self._lock()
        try:
            existing = self.existing_files()
            if existing and not (self.resume or self.overwrite):
                raise RunFolderError(
                    f"{self.path} already holds a run ({', '.join(existing)}): continue it with --resume, "
                    "replace it with --overwrite, or choose another --out folder"
                )
            if self.overwrite:
                for name in existing:
                    (self.path / name).unlink()
        except BaseException as err:
            self.__exit__(type(err), err, None)
            raise
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        self._unlock()
        if exc_type is not None and self._created and self.path.is_dir() and not any(self.path.iterdir()):
            self.path.rmdir()  # a run that failed before writing anything leaves no empty folder behind

    def _lock(self) -> None:
        lock = self.path / LOCK
        mine = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()})
        for _ in range(2):  # the second try follows the removal of a stale lock
            try:
                fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = _read_lock(lock)
                stale = holder.get("host") == socket.gethostname() and isinstance(holder.get("pid"), int) and not _alive(holder["pid"])
                if not stale:
                    who = f"process {holder.get('pid', '?')} on {holder.get('host', '?')}"
                    raise RunFolderError(
                        f"{self.path} is locked by {who} ({lock}): wait for it to finish, or, if it is "
                        "no longer running, delete the lock file"
                    ) from None
                lock.unlink(missing_ok=True)
                continue
            with os.fdopen(fd, "w") as handle:
                handle.write(mine)
            self._held = True
            return
        raise RunFolderError(f"{lock}: could not take the lock (another process took it first)")

    def _unlock(self) -> None:
        if self._held:
            (self.path / LOCK).unlink(missing_ok=True)
            self._held = False


def _flatten(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def check_same_settings(saved_path: Path, current: dict[str, Any], ignore: Collection[str] = ()) -> None:
    """Refuse to resume when ``current`` differs from the settings saved at ``saved_path`` (chapter 5).

    Settings named in ``ignore`` (e.g. loader workers, which change no result) may differ.

    Raises:
        FileNotFoundError: if no settings were saved. RunFolderError: naming every differing setting.
    """
    if not saved_path.is_file():
        raise FileNotFoundError(f"cannot resume: no {saved_path.name} in {saved_path.parent} (start without --resume)")
    check_settings_match(json.loads(saved_path.read_text()), current, saved_path.parent, ignore)


def check_settings_match(saved: dict[str, Any], current: dict[str, Any], folder: Path, ignore: Collection[str] = ()) -> None:
    """Refuse to resume ``folder`` when ``current`` differs from its ``saved`` settings (chapters 5 and 8).

    Raises:
        RunFolderError: naming every differing setting, with its saved and its current value.
    """
    before, now = _flatten(saved), _flatten(json.loads(json.dumps(current)))
    differing = sorted(k for k in before.keys() | now.keys() if before.get(k) != now.get(k) and k not in ignore)
    if differing:
        details = ", ".join(f"{k}: saved {before.get(k)!r}, now {now.get(k)!r}" for k in differing)
        raise RunFolderError(
            f"cannot resume {folder} with other settings ({details}): resume with the saved "
            "settings, or start a new run (another --out, or --overwrite)"
        )


def load_torch_file(path: Path, what: str, hint: str) -> Any:
    """``torch.load(path, weights_only=True)`` with a clear error for a missing, empty or truncated file (chapter 5).

    Raises:
        FileNotFoundError: if the file is missing. ValueError: naming the file, ``what`` it is and ``hint``.
    """
    import torch

    if not path.is_file():
        raise FileNotFoundError(f"no {path.name} in {path.parent}: {hint}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, OSError, ValueError, pickle.UnpicklingError) as err:
        size = path.stat().st_size
        raise ValueError(f"{path} ({size} bytes) is not a readable {what} ({type(err).__name__}): {hint}") from err
