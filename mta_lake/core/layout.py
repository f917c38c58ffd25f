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


def raw_file_name(key: str) -> str:
    """The inverse of ``raw_key``: the MTA file name an object holds (``turnstile_240120.txt``)."""
    return key.rsplit("/", 1)[-1].removesuffix(RAW_SUFFIX)
