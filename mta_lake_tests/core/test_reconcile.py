"""The three-way reconciliation on real lakes (local folder and fake-gcs-server)."""

import gzip
from datetime import date

from mta_lake.core import reconcile
from mta_lake.core.lake import Lake
from mta_lake.core.landing_report import report_from_lake_object, report_metadata
from mta_lake.core.layout import raw_key
from mta_lake.core.reconcile import WeekState

W1, W2, W3, W4, W5 = (
    date(2024, 1, 6),
    date(2024, 1, 13),
    date(2024, 1, 20),
    date(2024, 1, 27),
    date(2024, 2, 3),
)


def put_week(lake: Lake, file_name: str, data: bytes = b"C/A,UNIT\r\n", **metadata: str) -> None:
    with lake.writer(raw_key(file_name)) as pending:
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
    metadata = report_metadata(report_from_lake_object(lake, obj, "recorded_from_lake"))
    assert metadata["source_crc32c"] == "0badcafe"
    assert metadata["source_bytes"] == 100
    assert metadata["data_rows"] == 7
    assert metadata["stored_bytes"] == obj.size
    assert metadata["server_etag"] == '"abc"'
    assert metadata["status"] == "recorded_from_lake"
    assert str(metadata["dagster/uri"]).endswith("raw/turnstile/turnstile_240120.txt.gz")
    assert metadata["source_url"] == "http://mirror/turnstile_240120.txt"
    # Not downloaded now: no download figures that would describe nothing.
    assert not {"seconds", "mb_per_s", "attempts"} & set(metadata)


def test_contiguous_batches_respect_size_and_gaps() -> None:
    keys = ["2024-01-06", "2024-01-13", "2024-01-20", "2024-02-03", "2024-02-10"]
    assert reconcile.contiguous_batches(keys, 2) == [
        ["2024-01-06", "2024-01-13"],
        ["2024-01-20"],
        ["2024-02-03", "2024-02-10"],
    ]
    assert reconcile.format_weeks(keys) == "2024-01-06..2024-01-20 (3), 2024-02-03..2024-02-10 (2)"


# -- the sensor's decisions (pure: the views, the cursor, what is in flight, "now") -------------

HOUR = 3600.0
PLAN_DEFAULTS = {"max_weeks": 32, "max_records": 500, "retry_seconds": 6 * HOUR}


def five_states() -> reconcile.Reconciliation:
    """W1 landed, W2 unrecorded, W3 lost, W4 and W5 missing (no lake object needed to decide)."""
    statuses = [
        reconcile.WeekStatus(W1, WeekState.LANDED, "turnstile_240113.txt"),
        reconcile.WeekStatus(W2, WeekState.UNRECORDED, "turnstile_240120.txt"),
        reconcile.WeekStatus(W3, WeekState.LOST, "turnstile_240127.txt"),
        reconcile.WeekStatus(W4, WeekState.MISSING, "turnstile_240203.txt"),
        reconcile.WeekStatus(W5, WeekState.MISSING, "turnstile_240210.txt"),
    ]
    return reconcile.Reconciliation(weeks=tuple(statuses))


def plan(result=None, *, requested_at=None, in_flight=(), reconciling=False, now=100 * HOUR, **overrides):
    return reconcile.plan_reconciliation(
        result or five_states(),
        requested_at=requested_at or {},
        in_flight=in_flight,
        reconciling=reconciling,
        now=now,
        **{**PLAN_DEFAULTS, **overrides},
    )


def test_plan_requests_missing_and_lost_records_unrecorded() -> None:
    first = plan()
    assert first.request == ["2024-01-20", "2024-01-27", "2024-02-03"]
    assert [status.key for status in first.record] == ["2024-01-13"]
    assert [status.key for status in first.lost] == ["2024-01-20"]
    assert first.requested_at == {week: 100 * HOUR for week in first.request}


def test_plan_waits_out_the_retry_delay_except_for_lost_weeks() -> None:
    first = plan()
    soon = plan(requested_at=first.requested_at, now=101 * HOUR)
    assert soon.request == ["2024-01-20"]  # lost: requested again whatever the cursor says
    later = plan(requested_at=first.requested_at, now=106 * HOUR)
    assert later.request == ["2024-01-20", "2024-01-27", "2024-02-03"]


def test_plan_leaves_weeks_in_flight_and_waits_for_its_own_backfill() -> None:
    flying = plan(in_flight={"2024-01-20", "2024-01-27"})
    assert flying.request == ["2024-02-03"]
    assert [s.key for s in flying.lost_in_flight] == ["2024-01-20"] and flying.lost == []
    waiting = plan(reconciling=True)
    assert waiting.request == [] and waiting.waiting_for_backfill and waiting.candidates == 3
    assert waiting.requested_at == {}  # nothing was requested, so nothing is remembered


def test_plan_limits_a_tick_and_prunes_the_cursor() -> None:
    limited = plan(max_weeks=2, max_records=0)
    assert limited.request == ["2024-01-20", "2024-01-27"] and limited.record == []
    assert limited.candidates == 3
    stale = {"2024-01-06": 99 * HOUR, "2024-02-03": 10 * HOUR, "2024-01-27": 99 * HOUR}
    pruned = plan(requested_at=stale, reconciling=True)
    # In the lake now (2024-01-06): forgotten; older than the retry delay (2024-02-03): forgotten.
    assert pruned.requested_at == {"2024-01-27": 99 * HOUR}


def test_cursor_round_trip_and_garbage() -> None:
    assert reconcile.load_cursor(reconcile.dump_cursor({"2024-01-06": 5.0})) == {"2024-01-06": 5.0}
    for garbage in (None, "", "not json", "[1, 2]", '{"requested": [1]}', '{"requested": {"w": "x"}}'):
        assert reconcile.load_cursor(garbage) == {}
