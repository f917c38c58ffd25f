"""Smoke test of benchmarks 1, 2 and 4 on a tiny real sample: they run and print their tables.

No timing targets are asserted here (the machine running the tests is busy with other tests);
the targets are checked by running the benchmarks themselves (benchmarks/RESULTS.md).
"""

import pytest

from benchmarks import common, memory_growth, one_week, startup

TINY = str(common.TINY_SAMPLE)


def _first_column(rows: list[list[object]]) -> list[object]:
    return [row[0] for row in rows]


def test_one_week_prints_every_pipeline_and_ratio(capsys: pytest.CaptureFixture[str]) -> None:
    table, ratios = one_week.main(["--runs", "1", "--source", TINY])
    assert _first_column(table) == ["floor", "local lake", "fake-gcs", "replaced pipeline"]
    sample_mb = common.TINY_SAMPLE.stat().st_size / common.MB
    for name, seconds, mb_per_s, peak_mib, stored_mb, runs in table:
        assert seconds > 0 and mb_per_s > 0 and peak_mib >= 0 and runs == 1, name
        assert 0 < stored_mb < sample_mb / 5, f"{name} stored {stored_mb} MB of {sample_mb} MB"
    assert _first_column(ratios) == [name for name, _, _ in one_week.TARGETS]
    assert all(row[3] in ("yes", "NO") for row in ratios)
    printed = capsys.readouterr().out
    assert "| replaced pipeline " in printed and "| local lake / floor (time)" in printed


def test_memory_growth_prints_both_sizes_and_lakes(capsys: pytest.CaptureFixture[str]) -> None:
    table, checks = memory_growth.main(["--runs", "1", "--source", TINY])
    assert [(row[0], row[1]) for row in table] == [
        ("1x", "local lake"),
        ("1x", "fake-gcs"),
        ("4x", "local lake"),
        ("4x", "fake-gcs"),
    ]
    one_x_mb, four_x_mb = table[0][2], table[2][2]
    assert four_x_mb == pytest.approx(4 * one_x_mb, rel=0.01)  # the 4x week is four times the rows
    assert len(checks) == 4
    assert "| 4x   | fake-gcs" in capsys.readouterr().out


def test_startup_prints_every_variant(capsys: pytest.CaptureFixture[str]) -> None:
    table, checks = startup.main(["--runs", "1", "--no-warm-up"])
    assert _first_column(table) == list(startup.VARIANTS)
    by_name = {row[0]: row for row in table}
    assert by_name["import mta_lake.definitions"][1] > by_name["python (nothing)"][1]
    assert len(checks) == 2
    assert "| then mta_lake.definitions" in capsys.readouterr().out
