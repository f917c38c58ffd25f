"""``mta-lake`` without a running instance: argument errors, an unreachable instance, ``status``."""

import gzip
import json
from pathlib import Path

import pytest

from mta_lake.core.lake import LocalLake
from mta_lake.core.layout import raw_key
from mta_lake.tools.cli import EXIT_OK, EXIT_UNREACHABLE, EXIT_USAGE, main
from mta_lake_tests.support.fake_gcs import free_port
from mta_lake_tests.support.mirror import MtaMirror


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["2024-01-14", "2024-01-20"], "weeks start on a Saturday, and Sunday is not one"),
        (["2024-01-20", "2024-01-13"], "FROM 2024-01-20 is after TO 2024-01-13"),
        (["2024-01-13", "2099-01-03"], "has not ended"),
        (["2009-01-03", "2024-01-13"], "the first week is 2010-05-01"),
    ],
)
def test_backfill_rejects_invalid_ranges(args, message, capsys) -> None:
    assert main(["backfill", *args, "--url", f"http://127.0.0.1:{free_port()}"]) == EXIT_USAGE
    assert message in capsys.readouterr().err


def test_backfill_reports_an_unreachable_instance(capsys) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    assert main(["backfill", "2024-01-06", "2024-01-13", "--url", url]) == EXIT_UNREACHABLE
    assert f"no Dagster webserver at {url}" in capsys.readouterr().err


def test_status_from_lake_and_index(
    tmp_path: Path, mirror: MtaMirror, sample_files, monkeypatch, capsys
) -> None:
    data = sample_files["turnstile_170603.txt"]
    for name in ("turnstile_240113.txt", "turnstile_240120.txt", "turnstile_240203.txt"):
        mirror.add(name, data)
    lake = LocalLake(tmp_path / "lake")
    with lake.writer(raw_key("turnstile_240113.txt")) as pending:
        pending.write(gzip.compress(data))
    monkeypatch.setenv("MTA_SITE_URL", mirror.url)
    monkeypatch.setenv("MTA_LAKE_URL", str(tmp_path / "lake"))
    monkeypatch.delenv("MTA_DAGSTER_UI_URL", raising=False)
    assert main(["status", "--from", "2024-01-06", "--to", "2024-02-03", "--json"]) == EXIT_OK
    report = json.loads(capsys.readouterr().out)
    assert report["weeks"]["landed"] == ["2024-01-06"]
    assert report["weeks"]["missing"] == ["2024-01-13", "2024-01-27"]
    assert report["weeks"]["not_published"] == ["2024-01-20", "2024-02-03"]
    assert main(["status", "--from", "2024-01-06", "--to", "2024-02-03"]) == EXIT_OK
    text = capsys.readouterr().out
    assert "missing (published, not in the lake):" in text and "2024-01-13, 2024-01-27" in text
    assert "mta-lake backfill 2024-01-06 2024-02-03 --missing-only --wait" in text
