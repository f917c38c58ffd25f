"""The clean layer's code version, and the data version of a clean week derived from it.

A week's output is a pure function of the raw file's bytes, this code and the reference tables. So
its data version is derived from the raw object's CRC32C and ``CLEAN_CODE_VERSION``: when neither
changed, re-materialising the week has nothing to do.
"""

CLEAN_LOGIC_VERSION = "1"
"""Bump whenever a change to ``mta_lake/core/clean`` would change any output row or quarantine line."""

REFERENCE_FINGERPRINT = "ebe1f1a645a6"
"""The first 12 hex digits of ``stations.reference_fingerprint()``: the reference tables' bytes.
A test recomputes it, so changing a table without changing this (and so the code version) fails."""

CLEAN_CODE_VERSION = f"clean-{CLEAN_LOGIC_VERSION}-ref-{REFERENCE_FINGERPRINT}"
"""Use as the Dagster asset's ``code_version``."""


def output_data_version(raw_crc32c: str, code_version: str = CLEAN_CODE_VERSION) -> str:
    """The data version of a clean week: the raw object's CRC32C (8 hex digits) and the code version."""
    crc = raw_crc32c.strip().lower()
    if len(crc) != 8 or any(c not in "0123456789abcdef" for c in crc):
        raise ValueError(f"raw_crc32c must be 8 hex digits, got {raw_crc32c!r}")
    return f"raw-{crc}-{code_version}"
