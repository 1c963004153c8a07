"""Workshop plans follow the chapters' own prerequisites, times and measured costs (issue 15)."""

from __future__ import annotations

import math

import pytest

from closp_lite import workshop

FULL_DAY = ["00-tour", "02-radar", "03-labels", "04-captions", "05-training", "06-evaluation"]


def test_chapters_describe_themselves() -> None:
    chapters = workshop.book_chapters()
    assert chapters["04-captions"].necessary == ("02-radar", "03-labels")
    assert "04-captions" in chapters["05-training"].necessary
    assert all(info.minutes_to_learn > 0 and info.exercises > 0 for info in chapters.values())


def test_an_order_that_breaks_a_prerequisite_is_refused() -> None:
    with pytest.raises(ValueError, match="05-training needs 04-captions"):
        workshop.check_order(["00-tour", "05-training"])
    with pytest.raises(ValueError, match="unknown chapter"):
        workshop.check_order(["99-nothing"])


def test_timetable_adds_teaching_run_exercises_and_breaks() -> None:
    plan = workshop.timetable(FULL_DAY, start="09:00", lunch_after=150)
    chapters, costs = workshop.book_chapters(), workshop.run_costs()
    assert plan["start"].iloc[0] == "09:00"
    assert list(plan["activity"]).count("lunch") == 1 and "break" in set(plan["activity"])
    expected = sum(
        chapters[n].minutes_to_learn + math.ceil(costs.loc[n, "seconds"] / 60) + 5 * chapters[n].exercises for n in FULL_DAY
    )
    breaks = plan.loc[plan["activity"].isin(["break", "lunch"]), "minutes"].sum()
    assert plan.attrs["total_minutes"] == expected + breaks
    assert plan.attrs["total_minutes"] <= 8 * 60, "a full day must end in the afternoon"


def test_costs_come_from_both_benchmark_files() -> None:
    for env in ("project", "cpu-torch"):
        costs = workshop.run_costs(env)
        assert {"seconds", "peak_memory_gb"} <= set(costs.columns) and costs.attrs["date"]


def test_a_second_day_counts_the_first_as_taught() -> None:
    later = [name for name in workshop.book_chapters() if name > "06"]
    if not later:
        pytest.skip("no chapters after 6 in this book")
    with pytest.raises(ValueError, match="needs"):
        workshop.check_order(later)
    assert workshop.timetable(later, taught=FULL_DAY).attrs["total_minutes"] > 0
