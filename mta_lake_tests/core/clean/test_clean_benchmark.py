"""Smoke test of ``benchmarks/clean_week.py`` on a small real sample: it runs and prints its tables.

No timing target is asserted here (tests share the machine); ``python -m benchmarks.clean_week``
checks them on the full week.
"""

import pytest

from benchmarks import clean_week, common


def test_the_clean_week_benchmark_measures_every_engine_and_format(
    capsys: pytest.CaptureFixture[str],
) -> None:
    table, checks, agreement = clean_week.main(["--runs", "1", "--source", str(common.TINY_SAMPLE)])
    assert [(row[0], row[1]) for row in table] == [
        (engine, fmt) for engine in clean_week.ENGINES for fmt in clean_week.FORMATS
    ]
    for engine, fmt, seconds, peak_mib, ratio, rows, parquet_mb, runs in table:
        assert seconds > 0 and peak_mib >= 0 and ratio > 0 and runs == 1, (engine, fmt)
        assert rows == "13818" and parquet_mb > 0, (engine, fmt)  # every engine wrote every reading
    assert [row[0] for row in checks][:3] == [
        "mta_lake new format: wall s",
        "mta_lake new format: peak growth MiB",
        "pandas baseline / mta_lake, new format",
    ]
    shares = {row[0]: row[3] for row in agreement if row[3] != ""}
    assert shares["station"] == 1.0 and shares["station_key"] == 1.0
    assert "| duckdb candidate | old " in capsys.readouterr().out
