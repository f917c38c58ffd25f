"""Tables to Parquet bytes (what goes into the lake), and back.

The lake's writer is a write-only sink (no ``tell``/``seek``), so a week is serialised to bytes in
memory (a few MB) and written in one piece: ``with lake.writer(key) as sink: sink.write(data)``.
"""

import io
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

COMPRESSION = "zstd"
"""zstd (level 1, pyarrow's default for it): about half the size of snappy here, and faster to
write, because there is less to write."""
ROW_GROUP_ROWS = 131_072
"""Two row groups for a full week: readers such as DuckDB can split one file between threads."""
STATISTICS_COLUMNS = (
    "control_area",
    "unit",
    "station_key",
    "observed_at",
    "observed_at_utc",
    "source_line",
    "in_week",
    "is_reading_of_record",
    "week",
)
"""Columns whose min/max are stored (what readers filter on); statistics of every string column
cost a third of the writing time."""


def parquet_bytes(table: pa.Table, metadata: dict[str, str] | None = None) -> bytes:
    """``table`` as one Parquet file, with ``metadata`` as the file's key-value metadata.

    Dictionary-encoded columns are stored as plain strings (with dictionary pages) and the Arrow
    schema is not embedded, so every reader (pyarrow, DuckDB, BigQuery) sees ``string`` columns.
    """
    sink = pa.BufferOutputStream()
    with pq.ParquetWriter(
        sink,
        table.schema,
        compression=COMPRESSION,
        store_schema=False,
        write_statistics=[name for name in STATISTICS_COLUMNS if name in table.schema.names],
        # Dictionary pages for the strings only: dictionary-encoding timestamps and counters (the
        # writer's default) doubles both the writing time and the file size here.
        use_dictionary=[field.name for field in table.schema if _is_text(field.type)],
    ) as writer:
        writer.write_table(table, row_group_size=ROW_GROUP_ROWS)
        if metadata:
            writer.add_key_value_metadata(metadata)
    return sink.getvalue().to_pybytes()


def _is_text(type: pa.DataType) -> bool:
    return pa.types.is_string(type) or (pa.types.is_dictionary(type) and pa.types.is_string(type.value_type))


def write_parquet(table: pa.Table, target: str | Path) -> int:
    """Write ``table`` to a local Parquet file; returns its size in bytes."""
    data = parquet_bytes(table)
    Path(target).write_bytes(data)
    return len(data)


def read_parquet(data: bytes | str | Path) -> pa.Table:
    """Read a clean-layer Parquet file (bytes or a path) back into a table."""
    source = io.BytesIO(data) if isinstance(data, bytes) else data
    return pq.read_table(source)
