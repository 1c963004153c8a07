"""Workshop plans follow the chapters' own prerequisites, times and measured costs (issue 15)."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from closp_lite import workshop

FULL_DAY = ["00-tour", "02-radar", "03-labels", "04-captions", "05-training", "06-evaluation"]
THREE_HOURS = ["00-tour", "01-optical", "03-labels"]  # the instructor guide's 3-hour plan


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
    chapters, costs = workshop.book_chapters(), workshop.planning_costs()
    assert plan["start"].iloc[0] == "09:00"
    assert list(plan["activity"]).count("lunch") == 1 and "break" in set(plan["activity"])
    expected = sum(chapters[n].minutes_to_learn + math.ceil(costs.loc[n, "seconds"] / 60) + 5 * chapters[n].exercises for n in FULL_DAY)
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


def test_the_three_hour_plan_fits_in_180_minutes_with_its_breaks_and_follows_the_prerequisites() -> None:
    workshop.check_order(THREE_HOURS)
    plan = workshop.timetable(THREE_HOURS, start="09:00")
    assert plan.attrs["total_minutes"] == plan["minutes"].sum()  # breaks included
    assert plan.attrs["total_minutes"] <= 180
    assert "break" in set(plan["activity"])
    taught = plan.loc[plan["run time from"] != "", "run time from"]
    assert len(taught) == len(THREE_HOURS) and set(taught) <= set(workshop.COST_FILES.values())


def test_plans_take_the_larger_time_of_both_files_and_name_the_file() -> None:
    both, project, cpu = workshop.planning_costs(), workshop.run_costs("project"), workshop.run_costs("cpu-torch")
    for chapter in ("00-tour", "03-labels"):  # measured in both files
        assert both.loc[chapter, "seconds"] == max(project.loc[chapter, "seconds"], cpu.loc[chapter, "seconds"])
        larger = "chapters.json" if project.loc[chapter, "seconds"] >= cpu.loc[chapter, "seconds"] else "chapters_cpu_torch.json"
        assert both.loc[chapter, "source"] == larger


def _costs(rows: dict[str, tuple[float, str]]) -> pd.DataFrame:
    return pd.DataFrame([{"chapter": c, "seconds": s, "status": st} for c, (s, st) in rows.items()]).set_index("chapter")


def test_a_chapter_missing_from_one_file_or_not_timed_there_falls_back_to_the_other() -> None:
    project = _costs({"00-tour": (60.0, "ok"), "01-optical": (30.0, "ok"), "08-transfer": (50.0, "ok")})
    cpu = _costs({"00-tour": (200.0, "ok"), "08-transfer": (9.0, "skipped: needs torchvision (no CPU wheel)")})
    costs = workshop.combine_costs({"chapters.json": project, "chapters_cpu_torch.json": cpu})
    assert costs.loc["00-tour", ["seconds", "source"]].tolist() == [200.0, "chapters_cpu_torch.json"]  # the larger
    assert costs.loc["01-optical", ["seconds", "source"]].tolist() == [30.0, "chapters.json"]  # missing from cpu
    assert costs.loc["08-transfer", ["seconds", "source"]].tolist() == [50.0, "chapters.json"]  # skipped in cpu
    plan = workshop.timetable(["00-tour", "01-optical"], costs=costs)
    assert plan["run time from"].tolist()[::2] == ["chapters_cpu_torch.json", "chapters.json"]
    assert plan.loc[0, "activity"].endswith("run (4 min)")


def test_the_real_files_fall_back_for_chapters_only_one_of_them_measured() -> None:
    cpu = workshop.run_costs("cpu-torch")
    missing = [name for name in workshop.book_chapters() if name not in cpu.index]
    if not missing:
        pytest.skip("the CPU-torch file measures every chapter")
    costs = workshop.planning_costs()
    assert all(costs.loc[name, "source"] == "chapters.json" for name in missing if name in costs.index)


def test_run_costs_read_rows_from_before_and_after_the_cpu_and_load_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    old = {"chapter": "00-tour", "seconds": 83.2, "peak_memory_gb": 1.7, "status": "ok", "within_budget": True, "load_average": 1.2}
    new = {"chapter": "01-optical", "seconds": 6.6, "peak_memory_gb": 0.3, "status": "ok", "within_budget": True,
           "cpu_seconds": 5.9, "load_average_start": 0.8, "load_average_end": 1.4, "torch_threads": 2, "packages": ["torch"]}  # fmt: skip
    skipped = {"chapter": "08-transfer", "seconds": 0.0, "peak_memory_gb": 0.0, "status": "skipped: needs torchvision (no CPU wheel)",
               "within_budget": None, "load_average_start": 1.0, "load_average_end": 1.0, "packages": ["torch"]}  # fmt: skip
    record = {"date": "2026-12-03", "command": "chapters.py", "results": {"budget_gb": 2.0, "chapters": [old, new, skipped]}}
    monkeypatch.setattr(workshop, "read_result", lambda name: record)
    costs = workshop.run_costs("cpu-torch")
    assert costs.loc["00-tour", "load_average"] == 1.2 and costs.loc["01-optical", "load_average"] == 1.4
    assert math.isnan(costs.loc["00-tour", "cpu_seconds"]) and costs.loc["01-optical", "cpu_seconds"] == 5.9
    combined = workshop.combine_costs({"chapters_cpu_torch.json": costs})
    assert "08-transfer" not in combined.index  # skipped: not timed
