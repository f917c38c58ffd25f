"""The clean layer's two tables: one row per turnstile reading, and one per quarantined line.

The column names of the issue are fixed; the others say what the clean layer decided, so the next
layer never has to decide it again.
"""

import pyarrow as pa

READINGS_SCHEMA = pa.schema(
    [
        pa.field("control_area", pa.string(), nullable=False),
        pa.field("unit", pa.string(), nullable=False),
        pa.field("scp", pa.string(), nullable=False),
        pa.field("station", pa.string()),
        pa.field("line_names", pa.string()),
        pa.field("division", pa.string()),
        pa.field("observed_at", pa.timestamp("us"), nullable=False),
        pa.field("observed_at_utc", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("description", pa.string(), nullable=False),
        pa.field("entries", pa.int64(), nullable=False),
        pa.field("exits", pa.int64(), nullable=False),
        pa.field("source_file", pa.string(), nullable=False),
        pa.field("source_line", pa.int32(), nullable=False),
        pa.field("reading_group", pa.int8(), nullable=False),
        pa.field("station_source", pa.string(), nullable=False),
        pa.field("station_key", pa.string(), nullable=False),
        pa.field("station_complex", pa.string()),
        pa.field("ambiguous_local_time", pa.bool_(), nullable=False),
        pa.field("nonexistent_local_time", pa.bool_(), nullable=False),
        pa.field("duplicate_kind", pa.string()),
        pa.field("is_reading_of_record", pa.bool_(), nullable=False),
        pa.field("in_week", pa.bool_(), nullable=False),
        pa.field("week", pa.date32(), nullable=False),
    ]
)
"""One row per reading (per reading group of an old-format line), in file order.

- ``station``, ``line_names``, ``division``: as the new-format file prints them; for old-format rows
  from the station mapping (``stations.py``); null only when ``station_source`` is ``unmapped``.
- ``observed_at``: New York wall time as written. ``observed_at_utc``: the instant (``clock.py`` says
  how the clock changes are resolved; ``ambiguous_local_time`` / ``nonexistent_local_time`` mark them).
- ``source_line``: 1-based line in the raw file (header and blank lines counted).
  ``reading_group``: which of an old-format line's 1..8 readings; always 1 in the new format.
- ``station_source``: ``file``, ``mapping_enriched``, ``mapping_2015``, ``mapping_2010``,
  ``mapping_enriched_by_unit`` or ``unmapped``.
- ``station_key``: the normalised key for joining across years (``complex:<id>`` / ``remote:<UNIT>``);
  ``station_complex``: that complex's name.
- ``duplicate_kind``: null, ``exact_repeat``, ``audit_pair`` or ``conflicting_counters``;
  ``is_reading_of_record``: the one reading of its (turnstile, time) to use (``duplicates.py``).
- ``in_week``: ``observed_at`` within the week's seven days, [week 00:00, week + 7 days 00:00) New
  York wall time. Readings outside are kept; the neighbouring week holds them with ``in_week`` true.
- ``week``: the partition key (the Saturday that starts the week).
"""

NON_NULL_COLUMNS = tuple(field.name for field in READINGS_SCHEMA if not field.nullable)

DICTIONARY_STRING = pa.dictionary(pa.int32(), pa.string())


def dictionary_encoded(schema: pa.Schema) -> pa.Schema:
    """``schema`` with every string column dictionary-encoded (same names, order and nullability)."""
    return pa.schema(
        [field.with_type(DICTIONARY_STRING) if field.type == pa.string() else field for field in schema],
        metadata=schema.metadata,
    )


READINGS_TABLE_SCHEMA = dictionary_encoded(READINGS_SCHEMA)
"""``CleanResult.readings`` in memory: ``READINGS_SCHEMA`` with its string columns dictionary-encoded
(a week has a few thousand distinct values in each; the Parquet writer then needs no hashing). The
Parquet file stores plain strings (with dictionary pages), so readers get ``READINGS_SCHEMA``."""

QUARANTINE_SCHEMA = pa.schema(
    [
        pa.field("source_file", pa.string(), nullable=False),
        pa.field("source_line", pa.int32(), nullable=False),
        pa.field("raw_text", pa.string(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("week", pa.date32(), nullable=False),
    ]
)
"""One row per data line that could not be parsed: the line as stored (without its line terminator)
and why, in line order."""
