"""Hand-built turnstile histories, one per interval rule, each a turnstile of its own station.

Every history comes with what the mart must make of it, worked out by hand in the comments:
station-day entries and exits, and the rejections. Times are New York wall time.
"""

from dataclasses import dataclass, field, replace
from datetime import date, datetime

from mta_lake_tests.core.mart.clean_layer import Reading


@dataclass(frozen=True)
class Expected:
    """What one history's station must show."""

    days: dict[date, tuple[int, int]]
    """service_date -> (entries, exits) in station_daily_ridership: every row of the station, no more."""
    rejections: dict[str, int] = field(default_factory=dict)
    """entries_rejection reason -> number of intervals rejected for it."""
    rejected_entries: dict[date, int] = field(default_factory=dict)
    """service_date -> rejected entries movement (magnitude), where not zero."""
    coverage: dict[date, float] = field(default_factory=dict)


def _history(
    station: str, points: list[tuple[str, int, int]], unit: str = "R001", **extra: object
) -> list[Reading]:
    """Readings of turnstile (C/A = station, ``unit``, SCP 00-00-00) at "YYYY-MM-DD HH:MM" times.
    A time ending in "+1" is the second occurrence of a repeated November hour (fold=1)."""
    readings = []
    for when, entries, exits in points:
        fold = 1 if when.endswith("+1") else 0
        local = datetime.fromisoformat(when.removesuffix("+1")).replace(fold=fold)
        readings.append(
            Reading(
                station,
                unit,
                "00-00-00",
                local,
                entries,
                exits,
                station=station,
                station_key=station,
                **extra,
            )  # type: ignore[arg-type]
        )
    return readings


D = date.fromisoformat
HISTORIES: dict[str, tuple[list[Reading], Expected]] = {}

# One interval across midnight, 22:00 -> 02:00, split 2 h / 2 h. Entries 400 -> 200 + 200.
# Exits 101 -> floor(101 * 2/4) = 50 on the first day, the remaining 51 on the second.
HISTORIES["MIDNIGHT"] = (
    _history("MIDNIGHT", [("2024-01-16 22:00", 1000, 500), ("2024-01-17 02:00", 1400, 601)]),
    Expected(
        days={D("2024-01-16"): (200, 50), D("2024-01-17"): (200, 51)}, coverage={D("2024-01-16"): 2 / 24}
    ),
)

# A reset: 5,000,100 -> 3 in 4 h is far beyond 3,600/h and lands below 10,000: 'counter_reset', and a
# new run starts there. Counted: +100 before, +100 after. Rejected movement: -5,000,097.
# Exits keep counting (+50 x 3): the reset is rejected for entries only.
HISTORIES["RESET"] = (
    _history(
        "RESET",
        [
            ("2024-01-16 00:00", 5_000_000, 100),
            ("2024-01-16 04:00", 5_000_100, 150),
            ("2024-01-16 08:00", 3, 200),
            ("2024-01-16 12:00", 103, 250),
        ],
    ),
    Expected(
        days={D("2024-01-16"): (200, 150)},
        rejections={"counter_reset": 1},
        rejected_entries={D("2024-01-16"): 5_000_097},
    ),
)

# A counter counting down: every movement negative, so the run counts down: 100 + 150 + 50 entries,
# 50 + 50 + 100 exits, counted as earlier minus later (never an absolute value).
HISTORIES["DOWN"] = (
    _history(
        "DOWN",
        [
            ("2024-01-16 00:00", 10_000, 20_000),
            ("2024-01-16 04:00", 9_900, 19_950),
            ("2024-01-16 08:00", 9_750, 19_900),
            ("2024-01-16 12:00", 9_700, 19_800),
        ],
    ),
    Expected(days={D("2024-01-16"): (300, 200)}),
)

# A huge jump up (+1,998,900 in 4 h): 'implausible_jump', rejected whole (not clipped); counting resumes
# from the new value. Counted entries 100 + 100; exits 10 x 3.
HISTORIES["JUMP"] = (
    _history(
        "JUMP",
        [
            ("2024-01-16 00:00", 1_000, 10),
            ("2024-01-16 04:00", 1_100, 20),
            ("2024-01-16 08:00", 2_000_000, 30),
            ("2024-01-16 12:00", 2_000_100, 40),
        ],
    ),
    Expected(
        days={D("2024-01-16"): (200, 30)},
        rejections={"implausible_jump": 1},
        rejected_entries={D("2024-01-16"): 1_998_900},
    ),
)

# A 48-hour gap: 'long_gap' for both counters (500 entries, 50 exits rejected, booked to the day the
# gap ends), then 4 h counted (+50, +5). Nothing at all on the day the gap starts (its interval is
# rejected), coverage on the last day 4 h / 24 h.
HISTORIES["GAP"] = (
    _history(
        "GAP",
        [("2024-01-16 12:00", 1000, 10), ("2024-01-18 12:00", 1500, 60), ("2024-01-18 16:00", 1550, 65)],
    ),
    Expected(
        days={D("2024-01-18"): (50, 5)},
        rejections={"long_gap": 1},
        rejected_entries={D("2024-01-18"): 500},
        coverage={D("2024-01-18"): 4 / 24},
    ),
)

# Duplicates the clean layer flagged: an audit pair (REGULAR + RECOVR AUD), an exact repeat, and a
# conflicting pair whose other counters are wild. Only the readings of record count: 100 + 100 entries.
_dup = _history(
    "DUP", [("2024-01-16 04:00", 100, 10), ("2024-01-16 08:00", 200, 20), ("2024-01-16 12:00", 300, 30)]
)
HISTORIES["DUP"] = (
    [
        _dup[0],
        replace(_dup[0], description="RECOVR AUD", duplicate_kind="audit_pair", is_reading_of_record=False),
        _dup[1],
        replace(_dup[1], duplicate_kind="exact_repeat", is_reading_of_record=False),
        _dup[2],
        replace(
            _dup[2],
            entries=9_999_999,
            exits=0,
            duplicate_kind="conflicting_counters",
            is_reading_of_record=False,
        ),
    ],
    Expected(days={D("2024-01-16"): (200, 20)}),
)

# Across the week boundary: Friday 22:00 is the last reading of week 2024-01-13, Saturday 02:00 the first
# of week 2024-01-20; each file also carries the other's reading outside its week. One interval, counted
# once (in week 2024-01-20): 80 entries -> 40 Friday + 40 Saturday; exits 40 -> 20 + 20. Then +20/+10.
HISTORIES["BOUNDARY"] = (
    _history(
        "BOUNDARY",
        [("2024-01-19 22:00", 1000, 100), ("2024-01-20 02:00", 1080, 140), ("2024-01-20 06:00", 1100, 150)],
    ),
    Expected(days={D("2024-01-19"): (40, 20), D("2024-01-20"): (60, 30)}),
)

# Spring forward (Sunday 2024-03-10 has 23 hours). 22:00 EST -> 04:00 EDT is 5 real hours: 2 on
# Saturday, 3 on Sunday: 500 -> 200 + 300, exits 50 -> 20 + 30. Then 8 h (+800/+80) and 12 h
# (+1,200/+120), the last ending exactly at Monday's midnight (nothing on Monday).
# Sunday: 2,300 entries, 230 exits, covered 3 + 8 + 12 = 23 h of 23: coverage 1.
HISTORIES["SPRING"] = (
    _history(
        "SPRING",
        [
            ("2024-03-09 22:00", 0, 0),
            ("2024-03-10 04:00", 500, 50),
            ("2024-03-10 12:00", 1300, 130),
            ("2024-03-11 00:00", 2500, 250),
        ],
    ),
    Expected(
        days={D("2024-03-09"): (200, 20), D("2024-03-10"): (2300, 230)},
        coverage={D("2024-03-09"): 2 / 24, D("2024-03-10"): 1.0},
    ),
)

# Fall back (Sunday 2024-11-03 has 25 hours). 22:00 EDT -> 04:00 EST is 7 real hours: 2 + 5:
# 700 -> 200 + 500, exits 70 -> 20 + 50. Then 8 h and 12 h as above. Sunday: 2,500 / 250, 25 h of 25.
HISTORIES["AUTUMN"] = (
    _history(
        "AUTUMN",
        [
            ("2024-11-02 22:00", 0, 0),
            ("2024-11-03 04:00", 700, 70),
            ("2024-11-03 12:00", 1500, 150),
            ("2024-11-04 00:00", 2700, 270),
        ],
    ),
    Expected(
        days={D("2024-11-02"): (200, 20), D("2024-11-03"): (2500, 250)},
        coverage={D("2024-11-03"): 1.0},
    ),
)

# The repeated hour itself: 01:30 EDT and 01:30 EST are two readings an hour apart (the clean layer
# resolves them in observed_at_utc). Hourly intervals of +100, +150, +50: 300 entries on Sunday.
HISTORIES["REPEATED_HOUR"] = (
    _history(
        "REPEATED_HOUR",
        [
            ("2024-11-03 00:30", 0, 0),
            ("2024-11-03 01:30", 100, 1),
            ("2024-11-03 01:30+1", 250, 2),
            ("2024-11-03 02:30", 300, 3),
        ],
    ),
    Expected(days={D("2024-11-03"): (300, 3)}),
)

# Two readings at one instant: 02:30 on 2024-03-10 does not exist in New York (the clocks jump from 02:00
# to 03:00) and resolves to 07:30 UTC, the same instant as 03:30. Ordered by time then counters, the
# zero-length interval between them (+50) is rejected 'non_positive_duration'; the others count:
# 100 + 150 entries, 1 + 1 exits.
HISTORIES["SAME_INSTANT"] = (
    _history(
        "SAME_INSTANT",
        [
            ("2024-03-10 00:00", 0, 0),
            ("2024-03-10 02:30", 100, 1),
            ("2024-03-10 03:30", 150, 2),
            ("2024-03-10 06:00", 300, 3),
        ],
    ),
    Expected(
        days={D("2024-03-10"): (250, 2)},
        rejections={"non_positive_duration": 1},
        rejected_entries={D("2024-03-10"): 50},
    ),
)

# A small step against the run's direction (1,100 -> 1,095): 'against_direction', rejected (-5); the
# run still counts up: 100 + 105 entries.
HISTORIES["WOBBLE"] = (
    _history(
        "WOBBLE",
        [
            ("2024-01-16 00:00", 1000, 0),
            ("2024-01-16 04:00", 1100, 10),
            ("2024-01-16 08:00", 1095, 20),
            ("2024-01-16 12:00", 1200, 30),
        ],
    ),
    Expected(
        days={D("2024-01-16"): (205, 30)},
        rejections={"against_direction": 1},
        rejected_entries={D("2024-01-16"): 5},
    ),
)


# Modes (macros/modes.sql), each a station of its own on Wednesday 2024-02-14 (+100 entries, +10 exits):
# the division decides (PTH -> PATH, SRT -> SIR, RIT -> tram, IRT -> subway); a turnstile with no division
# (an old-format booth the reference tables did not map) takes its remote's mode (R549 is PATH), else subway.
_MODE_POINTS = [("2024-02-14 08:00", 1000, 100), ("2024-02-14 12:00", 1100, 110)]
MODES = {
    "MODE_PTH": ("PATH", {"division": "PTH", "unit": "R549"}),
    "MODE_SRT": ("SIR", {"division": "SRT", "unit": "R070"}),
    "MODE_RIT": ("tram", {"division": "RIT", "unit": "R468"}),
    "MODE_IRT_ON_A_PATH_REMOTE": ("subway", {"division": "IRT", "unit": "R540"}),
    "MODE_NO_DIVISION_PATH_REMOTE": ("PATH", {"division": None, "unit": "R549"}),
    "MODE_NO_DIVISION": ("subway", {"division": None, "unit": "R001"}),
}
for _name, (_mode, _extra) in MODES.items():
    HISTORIES[_name] = (
        _history(_name, _MODE_POINTS, **_extra),  # type: ignore[arg-type]
        Expected(days={D("2024-02-14"): (100, 10)}),
    )


def all_readings() -> list[Reading]:
    return [reading for readings, _ in HISTORIES.values() for reading in readings]
