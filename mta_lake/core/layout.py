"""Where each layer's objects live in the lake, and the names of the assets that own them.

Plain Python, no Dagster. One definition of every key, and of its inverse, so that landing, the
reconciliation, the CLI and the Dagster layer can never disagree about a path.
"""

RAW_TURNSTILE = "raw_turnstile"
"""The asset key (a single path component) of the raw layer."""

RAW_PREFIX = "raw/turnstile/"
RAW_SUFFIX = ".gz"


def raw_key(file_name: str) -> str:
    """The lake key of a raw file: ``raw/turnstile/turnstile_240120.txt.gz``."""
    return f"{RAW_PREFIX}{file_name}{RAW_SUFFIX}"


def raw_candidate_key(file_name: str) -> str:
    """Where a re-land puts the new file until it has parsed whole: hidden (never listed), beside
    the week's object, ``raw/turnstile/.relanding/turnstile_240120.txt.gz``."""
    return f"{RAW_PREFIX}.relanding/{file_name}{RAW_SUFFIX}"


def raw_file_name(key: str) -> str:
    """The inverse of ``raw_key``: the MTA file name an object holds (``turnstile_240120.txt``)."""
    return key.rsplit("/", 1)[-1].removesuffix(RAW_SUFFIX)


TURNSTILE_READINGS = "turnstile_readings"
"""The asset key of the clean layer."""

MART_MODELS = (
    "turnstile_week_last_readings",
    "turnstile_intervals",
    "station_daily_ridership",
    "system_daily_ridership",
    "mta_daily_ridership",
    "subway_vs_mta_daily",
)
"""The mart's dbt models (``mta_lake/warehouse/models``) and its seed (the MTA's published daily
ridership), each an asset of the same name."""

LANDING_ASSETS = (RAW_TURNSTILE, TURNSTILE_READINGS)
"""A week in the lake: its file landed byte for byte, and its readings cleaned."""

WEEKLY_ASSETS = (*LANDING_ASSETS, *MART_MODELS)
"""What a backfill of weeks builds: each week landed, then every weekly layer above it."""

WEEKLY_JOB = "turnstile_week_job"
"""The job of every weekly asset (the weekly schedule's; the CLI launches the mart's run in it)."""

LAYERS: dict[str, tuple[str, ...]] = {
    "raw": (RAW_TURNSTILE,),
    "clean": (TURNSTILE_READINGS,),
    "mart": MART_MODELS,
}
"""The layers by name (what ``--select`` of the CLI accepts besides asset names and ``all``)."""


class SelectionError(ValueError):
    """A selection names something that is not a layer or a weekly asset."""


def parse_selection(text: str) -> list[str]:
    """Layer or asset names, comma-separated (``all``: every layer), as weekly assets in layer order."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise SelectionError("--select names nothing")
    chosen: set[str] = set()
    for name in names:
        if name == "all":
            chosen.update(WEEKLY_ASSETS)
        elif name in LAYERS:
            chosen.update(LAYERS[name])
        elif name in WEEKLY_ASSETS:
            chosen.add(name)
        else:
            raise SelectionError(
                f"--select {name!r} is not a layer ({', '.join(LAYERS)}, all) or a weekly asset "
                f"({', '.join(WEEKLY_ASSETS)})"
            )
    return [name for name in WEEKLY_ASSETS if name in chosen]


CLEAN_READINGS_PREFIX = "clean/turnstile_readings/"
CLEAN_QUARANTINE_PREFIX = "clean/turnstile_quarantine/"


def clean_readings_key(week: str) -> str:
    """``clean/turnstile_readings/week=2024-01-06/readings.parquet``: one object per week (a Hive-style
    folder, so DuckDB and BigQuery read the week from the path)."""
    return f"{CLEAN_READINGS_PREFIX}week={week}/readings.parquet"


def clean_quarantine_key(week: str) -> str:
    """The lines of a week's raw file that could not be parsed, beside the week's readings."""
    return f"{CLEAN_QUARANTINE_PREFIX}week={week}/quarantine.parquet"


def clean_week_of_key(key: str) -> str | None:
    """The inverse of ``clean_readings_key`` (None for any other object)."""
    if not key.startswith(CLEAN_READINGS_PREFIX) or not key.endswith("/readings.parquet"):
        return None
    folder = key[len(CLEAN_READINGS_PREFIX) :].split("/", 1)[0]
    return folder.removeprefix("week=") if folder.startswith("week=") else None
