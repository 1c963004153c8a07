"""Workshop plans computed from the book itself (instructor guide).

A plan must respect what the chapters say about themselves: their *Necessary* prerequisites
and their *Time to learn* (read from each chapter's Prerequisites section), their number of
exercises, and what they cost to run (``benchmarks/results/chapters*.json``, read through
:func:`closp_lite.results.read_result`). :func:`timetable` turns an ordered list of chapters into
a timed plan with breaks and refuses an order that breaks a prerequisite.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from closp_lite.results import read_result

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ChapterInfo", "book_chapters", "check_order", "combine_costs", "planning_costs", "run_costs", "timetable"]

MINUTES_PER_EXERCISE = 5
COST_FILES = {"project": "chapters.json", "cpu-torch": "chapters_cpu_torch.json"}


@dataclass(frozen=True)
class ChapterInfo:
    """What a chapter says about itself (instructor guide)."""

    name: str
    title: str
    minutes_to_learn: int
    necessary: tuple[str, ...]
    helpful: tuple[str, ...]
    exercises: int


def _book_dir() -> Path:
    folder = Path(__file__).resolve().parents[1] / "book"
    if not folder.is_dir():
        raise FileNotFoundError(f"no book at {folder}: install closp_lite with `pip install -e .` from a clone")
    return folder


def _parse(path: Path) -> ChapterInfo:
    text = path.read_text()
    title = re.search(r"^# (.+)$", text, re.MULTILINE)
    minutes = re.search(r"\*\*Time to learn\*\*:\s*(\d+)\s*minutes", text)
    if title is None or minutes is None:
        raise ValueError(f"{path} lacks a '# title' or a '**Time to learn**: N minutes' line")
    links = re.findall(r"^\|\s*\[Chapter \d+\]\(([\w-]+)\)\s*\|\s*(\w+)", text, re.MULTILINE)
    exercises = text.split("\n## Exercises", 1)[-1].split("\n## ", 1)[0]
    # numbered answers inside a dropdown (fenced by backticks or colons) are not questions
    exercises = re.sub(r"^(`{3,}|:{3,})\{dropdown\}.*?^\1\s*$", "", exercises, flags=re.DOTALL | re.MULTILINE)
    return ChapterInfo(
        name=path.stem,
        title=title.group(1).split(":")[0].strip(),  # "5. Text as a bridge", without the subtitle
        minutes_to_learn=int(minutes.group(1)),
        necessary=tuple(name for name, importance in links if importance.lower() == "necessary"),
        helpful=tuple(name for name, importance in links if importance.lower() != "necessary"),
        exercises=len(re.findall(r"^\d+\.\s", exercises, re.MULTILINE)),
    )


@cache
def book_chapters() -> dict[str, ChapterInfo]:
    """Every numbered chapter of the book (``NN-name.md``), in order (instructor guide)."""
    return {path.stem: _parse(path) for path in sorted(_book_dir().glob("[0-9][0-9]-*.md"))}


def check_order(names: list[str], taught: Sequence[str] = ()) -> None:
    """Refuse a plan in which a chapter comes before, or without, a Necessary prerequisite (instructor guide).

    ``taught`` are chapters covered before this plan (for example on a first day).

    Raises:
        ValueError: naming the chapter and the missing prerequisite.
    """
    chapters = book_chapters()
    for position, name in enumerate(names):
        if name not in chapters:
            raise ValueError(f"unknown chapter {name!r}: the book has {', '.join(chapters)}")
        missing = [need for need in chapters[name].necessary if need not in [*taught, *names[:position]]]
        if missing:
            raise ValueError(f"{name} needs {', '.join(missing)} first (its Prerequisites say Necessary)")


def run_costs(env: str = "project") -> pd.DataFrame:
    """Measured run time and peak memory per chapter in sample mode (instructor guide).

    ``env``: ``"project"`` (this repository's environment, ``chapters.json``) or ``"cpu-torch"``
    (a CPU-only torch as Binder installs it, ``chapters_cpu_torch.json``). The measurement date
    and command are in the frame's ``attrs``. Rows measured since issue 15 also hold
    ``cpu_seconds``, ``load_average_start`` / ``load_average_end``, ``torch_threads`` and
    ``packages``; older rows lack them (NaN), and ``load_average`` is the load at the end for both.
    """
    import pandas as pd

    if env not in COST_FILES:
        raise ValueError(f"unknown environment {env!r}: choose one of {', '.join(COST_FILES)}")
    record = read_result(COST_FILES[env])
    frame = pd.DataFrame(record["results"]["chapters"]).set_index("chapter")
    if "load_average_end" in frame:
        # rows measured before issue 15 have one load_average (taken at the end); newer rows have a
        # start and an end, and keep load_average filled so that both kinds read alike
        old = frame["load_average"] if "load_average" in frame else pd.Series(float("nan"), index=frame.index)
        frame["load_average"] = old.fillna(frame["load_average_end"])
    frame.attrs = {"date": record["date"], "command": record["command"], "budget_gb": record["results"]["budget_gb"]}
    return frame


def combine_costs(costs: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Per chapter the larger measured run time over several cost tables, and which table gave it (instructor guide).

    ``costs`` maps a source name (the result file) to a :func:`run_costs` frame. Only rows whose
    ``status`` is ``ok`` (or that have no status) count: a chapter that failed or was skipped in one
    environment was not timed there, so its time comes from the other. Returns a frame indexed
    by chapter with ``seconds``, ``source`` (the name the time came from) and one
    ``seconds <source>`` column per table (NaN where that table has no time).
    """
    import pandas as pd

    timed = {}
    for source, frame in costs.items():
        ok = frame["status"].fillna("ok").astype(str).eq("ok") if "status" in frame else pd.Series(True, index=frame.index)
        timed[source] = frame.loc[ok, "seconds"].astype(float)
    table = pd.DataFrame(timed).dropna(how="all")
    if table.empty:
        return pd.DataFrame(columns=["seconds", "source"])
    # the larger time: a plan built on the slower environment does not run late in the faster one
    chosen = table.fillna(-1.0).idxmax(axis=1).astype(str)
    seconds = table.max(axis=1)
    table.columns = [f"seconds {name}" for name in table.columns]
    table.insert(0, "source", chosen)
    table.insert(0, "seconds", seconds)
    return table


def planning_costs(envs: Sequence[str] = tuple(COST_FILES)) -> pd.DataFrame:
    """The run time a plan should allow per chapter: the larger of the measured times in the
    result files of ``envs`` (default: both, ``chapters.json`` and ``chapters_cpu_torch.json``),
    with the file each time came from (instructor guide; see :func:`combine_costs`)."""
    return combine_costs({COST_FILES[env]: run_costs(env) for env in envs})


def timetable(
    names: list[str],
    start: str = "09:00",
    break_every: int = 90,
    break_minutes: int = 15,
    lunch_after: int | None = None,
    lunch_minutes: int = 60,
    env: str | Sequence[str] = tuple(COST_FILES),
    taught: Sequence[str] = (),
    costs: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """A timed plan: per chapter, teaching (time to learn + measured run time) then exercises (instructor guide).

    A break of ``break_minutes`` comes before the next chapter once ``break_every`` minutes have
    passed since the last one; the first break after ``lunch_after`` minutes (if given) is a
    lunch of ``lunch_minutes``. Exercises take ``MINUTES_PER_EXERCISE`` each. ``taught`` are
    chapters covered before (see :func:`check_order`).

    Run times are the larger measured time over the environments ``env`` (one name or several,
    default both; see :func:`planning_costs`), or come from ``costs`` (a :func:`combine_costs`
    frame) if given; the ``run time from`` column names the file each one was read from. A
    chapter measured in neither counts 0 minutes and says so.
    """
    import pandas as pd

    check_order(names, taught)
    chapters = book_chapters()
    if costs is None:
        costs = planning_costs([env] if isinstance(env, str) else env)
    seconds = {str(name): float(value) for name, value in costs["seconds"].items()}
    sources = {str(name): str(value) for name, value in costs["source"].items()}
    clock = int(start[:2]) * 60 + int(start[3:])
    elapsed = since_break = 0
    lunch_done = lunch_after is None
    rows = []

    def add(activity: str, minutes: int, source: str = "") -> None:
        nonlocal clock, elapsed, since_break
        rows.append({"start": f"{clock // 60:02d}:{clock % 60:02d}", "minutes": minutes, "activity": activity, "run time from": source})
        clock, elapsed = clock + minutes, elapsed + minutes
        since_break = 0 if activity in ("break", "lunch") else since_break + minutes

    for name in names:
        if rows and since_break >= break_every:
            is_lunch = not lunch_done and elapsed >= (lunch_after or 0)
            lunch_done = lunch_done or is_lunch
            add("lunch" if is_lunch else "break", lunch_minutes if is_lunch else break_minutes)
        info = chapters[name]
        run_minutes = math.ceil(seconds.get(name, 0.0) / 60)
        source = sources.get(name, "not measured")
        add(f"{info.title}: teach ({info.minutes_to_learn} min) and run ({run_minutes} min)", info.minutes_to_learn + run_minutes, source)
        add(f"{info.title}: {info.exercises} exercises", info.exercises * MINUTES_PER_EXERCISE)
    frame = pd.DataFrame(rows)
    frame.attrs["total_minutes"] = elapsed
    return frame
