"""The clean layer's core: one raw week file in, one typed table of readings out (no Dagster here).

- ``week``: ``clean_week`` and its result (readings, quarantine, counts, ``check_accounting``);
- ``checks``: the per-week checks (blocking or warning) for the Dagster layer to report;
- ``text``: gunzip, number and trim the lines, locate the commas;
- ``parse`` / ``fields``: lines to readings, both formats (a vectorised parser and a per-line one);
- ``clock``: New York wall time to UTC across the clock changes;
- ``duplicates``: duplicate readings classified and the reading of record chosen;
- ``stations``: booth to station (``reference/`` holds the tables and their provenance);
- ``schema``, ``parquet``, ``version``: the tables, their serialisation, the code/data versions.
"""

from mta_lake.core.clean.checks import WeekCheck, week_checks
from mta_lake.core.clean.parquet import parquet_bytes, read_parquet, write_parquet
from mta_lake.core.clean.schema import QUARANTINE_SCHEMA, READINGS_SCHEMA
from mta_lake.core.clean.stations import StationMapping, default_station_mapping, load_station_mapping
from mta_lake.core.clean.text import RawFileError
from mta_lake.core.clean.version import CLEAN_CODE_VERSION, output_data_version
from mta_lake.core.clean.week import (
    MAX_QUARANTINED_SHARE,
    AccountingError,
    CleanCounts,
    CleanResult,
    CleanWeekError,
    QuarantineThresholdError,
    clean_week,
)

__all__ = [
    "CLEAN_CODE_VERSION",
    "MAX_QUARANTINED_SHARE",
    "QUARANTINE_SCHEMA",
    "READINGS_SCHEMA",
    "AccountingError",
    "CleanCounts",
    "CleanResult",
    "CleanWeekError",
    "QuarantineThresholdError",
    "RawFileError",
    "StationMapping",
    "WeekCheck",
    "clean_week",
    "default_station_mapping",
    "load_station_mapping",
    "output_data_version",
    "parquet_bytes",
    "read_parquet",
    "week_checks",
    "write_parquet",
]
