"""The three-way reconciliation on real lakes (local folder and fake-gcs-server)."""

import gzip
from datetime import date

from mta_lake import reconcile
from mta_lake.lake import Lake
from mta_lake.landing import lake_key
from mta_lake.reconcile import WeekState

W1, W2, W3, W4, W5 = (
    date(2024, 1, 6),
    date(2024, 1, 13),
    date(2024, 1, 20),
    date(2024, 1, 27),
    date(2024, 2, 3),
)


def put_week(lake: Lake, file_name: str, data: bytes = b"C/A,UNIT\r\n", **metadata: str) -> None:
    with lake.writer(lake_key(file_name)) as pending:
        pending.write(gzip.compress(data))
        pending.metadata.update(metadata)


def published_for(*weeks: date) -> dict[date, date]:
    return {week: date.fromordinal(week.toordinal() + 7) for week in weeks}


def test_each_state_from_the_three_views(lake: Lake) -> None:
    put_week(lake, "turnstile_240113.txt")  # W1: in the lake and recorded -> landed
    put_week(lake, "turnstile_240120.txt", source_crc32c="0badcafe")  # W2: in the lake only -> unrecorded
    published = published_for(W1, W2, W3, W4)  # W3 recorded but gone -> lost; W4 -> missing; W5 unpublished
    result = reconcile.reconcile(
        published, reconcile.read_lake(lake), {"2024-01-06", "2024-01-20"}, first=W1, last=W5
    )
    states = {status.key: status.state for status in result.weeks}
    assert states == {
        "2024-01-06": WeekState.LANDED,
        "2024-01-13": WeekState.UNRECORDED,
        "2024-01-20": WeekState.LOST,
        "2024-01-27": WeekState.MISSING,
        "2024-02-03": WeekState.NOT_PUBLISHED,
    }
    assert result.to_land == ["2024-01-20", "2024-01-27"]
    assert [s.key for s in result.to_record] == ["2024-01-13"]
    assert result.by_state(WeekState.MISSING)[0].file_name == "turnstile_240203.txt"


def test_unreadable_index_requests_nothing(lake: Lake) -> None:
    put_week(lake, "turnstile_240113.txt")
    result = reconcile.reconcile(None, reconcile.read_lake(lake), set(), first=W1, last=W3)
    assert not result.index_readable
    assert result.to_land == []
    assert result.keys(WeekState.UNKNOWN) == ["2024-01-13", "2024-01-20"]
    assert result.keys(WeekState.UNRECORDED) == ["2024-01-06"]


def test_irregular_old_file_names_map_to_their_week(lake: Lake) -> None:
    # turnstile_111219.txt is a Monday: it holds the week starting 2011-12-10 (ends 12-17).
    put_week(lake, "turnstile_111219.txt")
    result = reconcile.reconcile(
        {}, reconcile.read_lake(lake), set(), first=date(2011, 12, 10), last=date(2011, 12, 10)
    )
    assert result.weeks[0].state == WeekState.UNRECORDED
    assert result.weeks[0].file_name == "turnstile_111219.txt"


def test_stray_objects_are_ignored(lake: Lake) -> None:
    with lake.writer("raw/turnstile/notes.txt") as pending:
        pending.write(b"hello")
    assert reconcile.lake_weeks(reconcile.read_lake(lake)) == {}


def test_recorded_metadata_comes_from_the_object(lake: Lake) -> None:
    put_week(
        lake,
        "turnstile_240120.txt",
        b"x" * 100,
        source_crc32c="0badcafe",
        source_bytes="100",
        data_rows="7",
        source_url="http://mirror/turnstile_240120.txt",
        source_etag='"abc"',
    )
    (obj,) = reconcile.read_lake(lake)
    metadata = reconcile.recorded_metadata(lake, obj)
    assert metadata["source_crc32c"] == "0badcafe"
    assert metadata["source_bytes"] == 100
    assert metadata["data_rows"] == 7
    assert metadata["stored_bytes"] == obj.size
    assert metadata["server_etag"] == '"abc"'
    assert metadata["status"] == "recorded_from_lake"
    assert str(metadata["dagster/uri"]).endswith("raw/turnstile/turnstile_240120.txt.gz")


def test_contiguous_batches_respect_size_and_gaps() -> None:
    keys = ["2024-01-06", "2024-01-13", "2024-01-20", "2024-02-03", "2024-02-10"]
    assert reconcile.contiguous_batches(keys, 2) == [
        ["2024-01-06", "2024-01-13"],
        ["2024-01-20"],
        ["2024-02-03", "2024-02-10"],
    ]
    assert reconcile.format_weeks(keys) == "2024-01-06..2024-01-20 (3), 2024-02-03..2024-02-10 (2)"
