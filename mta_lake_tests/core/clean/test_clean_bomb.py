"""A gzip bomb in the lake: the clean layer decompresses while counting and refuses past its cap.

A raw object of under 2 MB that inflates to 512 MiB of turnstile lines is put in a real (local)
lake, and the week is cleaned (``RunCleaning``, as the ``turnstile_readings`` asset does) in a
child process whose peak RSS is measured. Before the cap, the same object grew peak memory by
2.2 GB and was cleaned as a week; now the week fails naming the cap, with memory growth bounded by
the cap (32 MiB here), or flat when the gzip trailer already states the size.
"""

import gzip
import json
import subprocess
import sys
import zlib
from datetime import date
from pathlib import Path

import pytest

from mta_lake.core.clean import RawFileError, clean_week
from mta_lake.core.clean.text import DECOMPRESS_PIECE
from mta_lake.core.lake import LocalLake
from mta_lake.core.layout import raw_key
from mta_lake_harness.mirror import gzip_bomb

WEEK = "2024-01-06"
FILE = "turnstile_240113.txt"
HEADER = b"C/A,UNIT,SCP,STATION,LINENAME,DIVISION,DATE,TIME,DESC,ENTRIES,EXITS\n"
INFLATED = 512 << 20
CAP = 32 << 20

CHILD = """
import json, resource, sys
from mta_lake.core.cleaning import RunCleaning
from mta_lake.core.clean import default_station_mapping
from mta_lake.core.lake import LocalLake
root, week, cap = sys.argv[1], sys.argv[2], int(sys.argv[3])
mapping = default_station_mapping()  # loaded before the baseline, like the imports
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
outcomes = list(RunCleaning([week], LocalLake(root), mapping=mapping, max_bytes=cap))
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
failed = [o.week for o in outcomes if hasattr(o, "error")]
print(json.dumps({"growth_kb": after - before, "outcomes": [str(o) for o in outcomes], "failed": failed}))
"""


def lake_with(tmp_path: Path, stored: bytes) -> Path:
    root = tmp_path / "lake"
    with LocalLake(root).writer(raw_key(FILE)) as pending:
        pending.write(stored)
        pending.metadata["source_crc32c"] = "00000000"  # as landing records it: no CRC pass needed
    return root


def clean_in_child(root: Path, cap: int) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(root), WEEK, str(cap)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def honest_bomb() -> bytes:
    """One gzip member: its trailer states the inflated size."""
    return gzip_bomb(INFLATED, HEADER)


def test_an_honest_bomb_is_refused_with_memory_flat(tmp_path: Path, honest_bomb: bytes) -> None:
    assert len(honest_bomb) < 2 << 20 and int.from_bytes(honest_bomb[-4:], "little") == INFLATED
    result = clean_in_child(lake_with(tmp_path, honest_bomb), CAP)
    assert result["failed"] == [WEEK], result
    (message,) = result["outcomes"]
    assert f"week {WEEK} ({FILE})" in message and "more than 33,554,432 bytes (MTA_MAX_WEEK_BYTES)" in message
    # Counted, never kept: zlib's state and a piece at a time, whatever the bomb's size.
    assert result["growth_kb"] < 16 * 1024, result


def test_a_bomb_whose_trailer_lies_is_refused_within_the_cap(tmp_path: Path, honest_bomb: bytes) -> None:
    """The bomb, then a tiny member: the trailer now states a few bytes, so only the count stops it."""
    lying = honest_bomb + gzip.compress(b"A002,R051,02-00-00\n")
    assert int.from_bytes(lying[-4:], "little") < CAP
    result = clean_in_child(lake_with(tmp_path, lying), CAP)
    assert result["failed"] == [WEEK], result
    assert "MTA_MAX_WEEK_BYTES" in str(result["outcomes"])
    # At most the cap and a piece or two kept (before the cap: 2.2 GB growth, and the week "cleaned").
    assert result["growth_kb"] < (CAP + 2 * DECOMPRESS_PIECE + (16 << 20)) // 1024, result


def test_a_damaged_object_whose_end_looks_like_a_huge_size_is_reported_as_damaged() -> None:
    good = gzip.compress(HEADER + b"A002,R051,02-00-00,59 ST,NQR456W,BMT,01/06/2024,00:00:00,REGULAR,1,1\n")
    cut = good[:-8] + (1 << 31).to_bytes(4, "little") * 2  # crc and size overwritten
    with pytest.raises(RawFileError, match="not a complete gzip stream"):
        clean_week(cut, week=date(2024, 1, 6), file_name=FILE, max_bytes=CAP)


def test_a_week_within_the_cap_cleans_as_before(full_week_files: dict[str, Path]) -> None:
    """The real 33 MB week, in gzip members of any size, against a cap just above it."""
    data = full_week_files["turnstile_240113.txt"].read_bytes()
    members = b"".join(zlib.compress(data[i : i + (10 << 20)], 6, 31) for i in range(0, len(data), 10 << 20))
    one = clean_week(gzip.compress(data, 6), week=date(2024, 1, 6), file_name=FILE, max_bytes=len(data))
    many = clean_week(members, week=date(2024, 1, 6), file_name=FILE, max_bytes=len(data))
    assert one.counts == many.counts and one.counts.data_lines > 200_000
    assert one.readings.equals(many.readings)
    with pytest.raises(RawFileError, match="MTA_MAX_WEEK_BYTES"):
        clean_week(members, week=date(2024, 1, 6), file_name=FILE, max_bytes=len(data) - 1)
