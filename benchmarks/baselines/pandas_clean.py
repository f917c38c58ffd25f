"""A straightforward pandas implementation of the clean layer's schema, for benchmarks only.

What a competent analyst would write first: ``pandas.read_csv`` of the gzip file, the old format
reshaped from wide (eight readings a line) to long with one ``concat``, ``to_datetime`` with an
explicit format, ``tz_localize`` for UTC, ``groupby().transform`` for the duplicate kinds, a
``merge`` with the reference table for stations and keys, ``to_parquet``. Same columns and types as
``mta_lake.core.clean.READINGS_SCHEMA``.

It does less than the real clean layer, which only favours it in the comparison: no quarantine
(a malformed line raises or becomes NaN), line numbers assume no blank lines, the station lookup
uses the enriched table by (booth, remote) and by remote only, and the spring gap is shifted
forward (pandas' option) instead of read as standard time.
"""

import io
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

REFERENCE = Path(__file__).resolve().parents[2] / "mta_lake" / "core" / "clean" / "reference"
NEW_COLUMNS = [
    "control_area",
    "unit",
    "scp",
    "station",
    "line_names",
    "division",
    "date",
    "time",
    "description",
    "entries",
    "exits",
]
READING = ["date", "time", "description", "entries", "exits"]


def load_reference() -> tuple[pd.DataFrame, pd.DataFrame]:
    """(by booth and remote, by remote): station names and station keys from the enriched table."""
    table = pd.read_csv(REFERENCE / "remote_booth_station_clean.csv", dtype=str)
    table["station_key"] = "complex:" + table["complex_id"]
    table["station_complex"] = table["complex_name"].fillna(table["station_name"])
    by_booth = table.rename(
        columns={
            "booth": "control_area",
            "remote": "unit",
            "line_name": "line_names",
            "station": "map_station",
            "division": "map_division",
        }
    )[["control_area", "unit", "map_station", "line_names", "map_division", "station_key", "station_complex"]]
    by_remote = (
        table.groupby("remote")
        .agg(remote_station=("station", "first"), remote_key=("station_key", "first"))
        .reset_index()
        .rename(columns={"remote": "unit"})
    )
    return by_booth.drop_duplicates(["control_area", "unit"]), by_remote


def clean_week_pandas(raw_gzip: bytes, *, week: date, file_name: str, old_format: bool) -> bytes:
    """The week's readings as Parquet bytes."""
    by_booth, by_remote = load_reference()
    source = io.BytesIO(raw_gzip)
    if old_format:
        wide = pd.read_csv(source, compression="gzip", header=None, names=range(43), dtype=str)
        wide["source_line"] = np.arange(1, len(wide) + 1)
        parts = []
        for group in range(8):
            columns = [3 + 5 * group + i for i in range(5)]
            part = wide[[0, 1, 2, *columns, "source_line"]].copy()
            part.columns = ["control_area", "unit", "scp", *READING, "source_line"]
            part["reading_group"] = group + 1
            parts.append(part[part["date"].notna()])
        df = pd.concat(parts).sort_values(["source_line", "reading_group"], kind="stable")
        for column in READING:
            df[column] = df[column].str.strip()
        df["observed_at"] = pd.to_datetime(df["date"] + " " + df["time"], format="%m-%d-%y %H:%M:%S")
        df = df.merge(by_booth, on=["control_area", "unit"], how="left")
        df = df.merge(by_remote, on="unit", how="left")
        df["station"] = df["map_station"].fillna(df["remote_station"])
        df["division"] = df["map_division"]
        df["station_source"] = np.where(
            df["map_station"].notna(), "mapping_enriched", "mapping_enriched_by_unit"
        )
    else:
        df = pd.read_csv(source, compression="gzip", header=0, names=NEW_COLUMNS, dtype=str)
        df["source_line"] = np.arange(2, len(df) + 2)
        df["reading_group"] = 1
        for column in ["station", "line_names", "division", "exits"]:
            df[column] = df[column].str.strip()
        df["observed_at"] = pd.to_datetime(df["date"] + " " + df["time"], format="%m/%d/%Y %H:%M:%S")
        df = df.merge(by_booth.drop(columns=["line_names"]), on=["control_area", "unit"], how="left")
        df = df.merge(by_remote, on="unit", how="left")
        df["station_source"] = "file"
    df["station_key"] = df["station_key"].fillna(df["remote_key"]).fillna("remote:" + df["unit"])
    df["entries"] = pd.to_numeric(df["entries"]).astype("int64")
    df["exits"] = pd.to_numeric(df["exits"]).astype("int64")

    local = df["observed_at"].dt
    first = local.tz_localize(
        "America/New_York", ambiguous=np.ones(len(df), bool), nonexistent="shift_forward"
    )
    df["ambiguous_local_time"] = local.tz_localize(
        "America/New_York", ambiguous="NaT", nonexistent="shift_forward"
    ).isna()
    df["nonexistent_local_time"] = local.tz_localize(
        "America/New_York", ambiguous=np.ones(len(df), bool), nonexistent="NaT"
    ).isna()
    df["observed_at_utc"] = first.dt.tz_convert("UTC")

    keys = ["control_area", "unit", "scp", "observed_at"]
    grouped = df.groupby(keys)
    size = grouped["entries"].transform("size")
    descriptions = grouped["description"].transform("nunique")
    counters = grouped["entries"].transform("nunique") * grouped["exits"].transform("nunique")
    df["duplicate_kind"] = np.select(
        [size == 1, (descriptions == 1) & (counters == 1), descriptions > 1],
        [None, "exact_repeat", "audit_pair"],
        default="conflicting_counters",
    )
    df["duplicate_kind"] = df["duplicate_kind"].where(size > 1, None)
    ranked = df.assign(not_regular=df["description"] != "REGULAR").sort_values(
        [*keys, "not_regular", "source_line", "reading_group"], kind="stable"
    )
    df["is_reading_of_record"] = ~ranked.duplicated(keys).reindex(df.index)
    start = pd.Timestamp(week)
    df["in_week"] = (df["observed_at"] >= start) & (df["observed_at"] < start + timedelta(days=7))
    df["source_file"] = file_name
    df["week"] = week
    df["observed_at"] = df["observed_at"].astype("datetime64[us]")
    df["observed_at_utc"] = df["observed_at_utc"].astype("datetime64[us, UTC]")
    df["source_line"] = df["source_line"].astype("int32")
    df["reading_group"] = df["reading_group"].astype("int8")
    columns = [
        "control_area",
        "unit",
        "scp",
        "station",
        "line_names",
        "division",
        "observed_at",
        "observed_at_utc",
        "description",
        "entries",
        "exits",
        "source_file",
        "source_line",
        "reading_group",
        "station_source",
        "station_key",
        "station_complex",
        "ambiguous_local_time",
        "nonexistent_local_time",
        "duplicate_kind",
        "is_reading_of_record",
        "in_week",
        "week",
    ]
    out = io.BytesIO()
    df[columns].to_parquet(out, engine="pyarrow", compression="zstd", index=False)
    return out.getvalue()
