"""A RE-CREATION of the Prefect flow that mta_lake replaces, for benchmarks only.

This is not the original code (which is not in this repository); it rebuilds the original's data
path from its description in /work/shared/mta-facts.md: ``pandas.read_csv(url, chunksize=5000)``,
rename ``C/A`` to ``CA``, strip the spaces from the header names, append each chunk to a local
gzip CSV with ``to_csv(compression="gzip", mode="a")`` (so one gzip member per chunk, and
pandas' index written as a stray first column), then upload that file to
``turnstile/YYMMDD.csv.gz``. Prefect itself is left out: only the data path is measured. The
original's error handling (print and swallow) is left out too: here errors raise, so a
benchmark cannot report a failed run as a fast one.
"""

import os
from pathlib import Path
from typing import Any

import pandas as pd

CHUNK_ROWS = 5000


def land_week_like_prefect_flow(url: str, work_dir: str, client: Any, bucket: str) -> dict[str, int]:
    """Download ``url`` the way the replaced flow did and upload the result to ``bucket``."""
    file_name = url.rsplit("/", 1)[-1]  # turnstile_YYMMDD.txt
    yymmdd = file_name.removeprefix("turnstile_").removesuffix(".txt")
    local_path = Path(work_dir) / f"{yymmdd}.csv.gz"
    local_path.unlink(missing_ok=True)
    rows = 0
    for number, chunk in enumerate(pd.read_csv(url, chunksize=CHUNK_ROWS)):
        chunk.columns = chunk.columns.str.strip()
        chunk = chunk.rename(columns={"C/A": "CA"})
        # mode="a" with compression="gzip" appends a new gzip member for every chunk.
        chunk.to_csv(local_path, compression="gzip", mode="a", header=number == 0)
        rows += len(chunk)
    blob = client.bucket(bucket).blob(f"turnstile/{yymmdd}.csv.gz")
    blob.upload_from_filename(str(local_path))
    return {"stored_bytes": os.path.getsize(local_path), "data_rows": rows}
