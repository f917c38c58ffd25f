"""Which weeks are partitions (``mta_lake.core.published_weeks``): the published and landed weeks, in order."""

from datetime import date, datetime, timedelta

from mta_lake.core import weeks
from mta_lake.core.published_weeks import (
    PartitionPlan,
    not_published_message,
    partition_weeks,
    plan_partitions,
    unpublished_weeks,
)

# Tuesday 2024-02-13, New York: the newest ended week is 2024-02-03 (its file, 240210, came on Saturday).
NOW = datetime(2024, 2, 13, 12, 0, tzinfo=weeks.NEW_YORK)


def files(*weeks_: str) -> list[date]:
    """The file dates the index lists for these weeks (each published on the Saturday after)."""
    return [weeks.week_end(date.fromisoformat(w)) for w in weeks_]


def keys(*weeks_: str) -> list[str]:
    return list(weeks_)


def apply(current: list[str], plan: PartitionPlan) -> list[str]:
    """What the instance holds after the plan (deletes first, then adds appended in order)."""
    kept = [key for key in current if key not in set(plan.delete)]
    return kept + [key for key in plan.add if key not in kept]


def test_a_fresh_instance_gets_every_published_week_in_order_and_nothing_else() -> None:
    published = files("2024-01-06", "2024-01-13", "2024-01-27", "2024-02-03")
    plan = plan_partitions([], published, [], [], NOW)
    assert plan.add == ("2024-01-06", "2024-01-13", "2024-01-27", "2024-02-03")
    assert not plan.delete and not plan.deferred
    # 2024-01-20 has no file: not a partition. Neither is any week of 2026, nor one that has not ended.
    assert "2024-01-20" not in plan.add


def test_a_week_in_the_lake_stays_a_partition_even_when_the_index_drops_it() -> None:
    published = files("2024-01-06")
    plan = plan_partitions(keys("2024-01-06", "2024-01-13"), published, [date(2024, 1, 13)], [], NOW)
    assert not plan.delete and not plan.add


def test_a_week_with_no_file_past_its_deadline_is_removed_unless_in_flight() -> None:
    current = keys("2024-01-06", "2024-01-13")
    published = files("2024-01-06")
    plan = plan_partitions(current, published, [], [], NOW)
    assert plan.delete == ("2024-01-13",) and plan.unpublished == ("2024-01-13",)
    # A backfill still targets it: kept (a backfill whose partitions vanish fails as a whole).
    assert not plan_partitions(current, published, [], ["2024-01-13"], NOW).delete


def test_the_week_the_schedule_waits_for_stays_until_its_deadline() -> None:
    saturday = datetime(2024, 2, 10, 10, 0, tzinfo=weeks.NEW_YORK)  # the schedule's tick for 2024-02-03
    current = keys("2024-01-27", "2024-02-03")
    published = files("2024-01-27")  # 240210 is not up yet
    assert not plan_partitions(current, published, [], [], saturday).delete
    deadline = weeks.publication_deadline(date(2024, 2, 3))
    after = plan_partitions(current, published, [], [], deadline + timedelta(minutes=1))
    assert after.unpublished == ("2024-02-03",)


def test_an_unreadable_index_or_lake_removes_nothing() -> None:
    current = keys("2024-01-06", "2024-01-13")
    no_index = plan_partitions(current, None, [date(2024, 1, 27)], [], NOW)
    assert not no_index.delete and no_index.add == ("2024-01-27",)
    no_lake = plan_partitions(current, files("2024-01-06"), None, [], NOW)
    assert not no_lake.delete


def test_an_old_week_published_late_is_put_in_its_place_when_nothing_is_in_flight() -> None:
    current = keys("2024-01-06", "2024-01-20", "2024-01-27")
    published = files("2024-01-06", "2024-01-13", "2024-01-20", "2024-01-27")
    plan = plan_partitions(current, published, [], [], NOW)
    # The keys after it are deleted and added back behind it: history belongs to the key.
    assert plan.moved == ("2024-01-20", "2024-01-27")
    assert apply(current, plan) == ["2024-01-06", "2024-01-13", "2024-01-20", "2024-01-27"]
    assert not plan.unpublished
    # While a run is in flight the keys must not move: the old week waits, a new one is appended.
    waiting = plan_partitions(current, [*published, *files("2024-02-03")], [], ["2024-01-27"], NOW)
    assert waiting.deferred == ("2024-01-13",) and waiting.add == ("2024-02-03",) and not waiting.delete


def test_keys_that_are_not_weeks_are_removed() -> None:
    plan = plan_partitions(["not-a-week", "2024-01-06"], files("2024-01-06"), [], [], NOW)
    assert plan.delete == ("not-a-week",) and not plan.unpublished


def test_partition_weeks_never_include_a_week_that_has_not_ended() -> None:
    # The index lists 240217 early (a week still running on Tuesday 2024-02-13 would need 240224).
    assert partition_weeks(files("2024-02-03", "2024-02-10"), [], NOW)[-1] == date(2024, 2, 3)


def test_unpublished_weeks_and_their_message_name_the_week_and_the_file() -> None:
    requested = [date(2024, 1, 6), date(2024, 1, 13), date(2024, 1, 20)]
    assert unpublished_weeks(requested, files("2024-01-06", "2024-01-20")) == [date(2024, 1, 13)]
    message = not_published_message(date(2024, 1, 13), "http://mirror/turnstile.html")
    assert message.startswith("week 2024-01-13: not published:")
    assert "turnstile_240120.txt" in message


def test_run_weeks_resolves_a_range_against_the_partition_keys() -> None:
    tags = {weeks.RANGE_START_TAG: "2024-01-06", weeks.RANGE_END_TAG: "2024-01-27"}
    # 2024-01-20 is not a partition: a range of partitions does not contain it.
    assert weeks.run_weeks(tags, ["2024-01-06", "2024-01-13", "2024-01-27"]) == [
        "2024-01-06",
        "2024-01-13",
        "2024-01-27",
    ]
    # Without the keys: every week between (a superset, what the sensors' in-flight check wants).
    assert len(weeks.run_weeks(tags)) == 4
