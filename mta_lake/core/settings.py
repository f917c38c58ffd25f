"""Every ``MTA_*`` environment variable: declared once, typed, with its default and meaning.

Plain Python, no Dagster. ``Settings.from_env()`` is the one place that reads them; everything
else takes a ``Settings`` (or one of its values) as an argument. The table of variables in
``docs/SETTINGS.md`` is compared with ``SETTINGS`` by a test, so the two cannot drift apart.

Rules for every variable: unset and empty both mean the default; a value that cannot be parsed
raises ``SettingsError`` naming the variable and what it expects (the code location then fails to
load with that message, before anything runs). Secrets (``secret=True``) are never stored here:
only whether they are set, so that a ``Settings`` can be printed or logged.
"""

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from mta_lake.core.weeks import PUBLICATION_GRACE

PROJECT_ROOT = Path(__file__).resolve().parents[2]
"""The checkout (or the installed tree's parent): where ``make dev`` keeps its local data."""

DEFAULT_SITE_URL = "https://web.mta.info/developers"
DEFAULT_UI_URL = "http://127.0.0.1:3000"
DEFAULT_LAKE_PATH = PROJECT_ROOT / "data" / "lake"
DEFAULT_WAREHOUSE_PATH = PROJECT_ROOT / "data" / "warehouse" / "mta.duckdb"
# -- the source is untrusted: limits on what one download may take (issue 20) ------------------
DEFAULT_MAX_INDEX_BYTES = 8 << 20
"""The index page is ~100 KB with every week since 2010 linked; 8 MiB leaves room for decades."""
DEFAULT_MAX_WEEK_BYTES = 256 << 20
"""A full week is ~33 MB; 256 MiB is 7.5 times that, and what a run pod of 1 GiB can still clean."""
DEFAULT_DOWNLOAD_DEADLINE_SECONDS = 900.0
"""A 33 MB week takes under a second here and about a minute at 0.5 MB/s; 15 minutes is a stuck one."""
DEFAULT_DUCKDB_MEMORY_LIMIT = "4GB"


class SettingsError(ValueError):
    """An environment variable holds a value that cannot be used; the message names it."""


# -- parsers: each returns the typed value or raises ValueError with what it expects ---------


def _whole(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise ValueError(f"a whole number from {low} to {high}") from None
        if not low <= value <= high:
            raise ValueError(f"a whole number from {low} to {high}")
        return value

    return parse


def _positive_number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError("a positive number") from None
    if not value > 0 or value != value or value == float("inf"):
        raise ValueError("a positive number")
    return value


_SWITCH_WORDS = {
    "running": True,
    "on": True,
    "true": True,
    "1": True,
    "stopped": False,
    "off": False,
    "false": False,
    "0": False,
}


def _switch(text: str) -> bool:
    try:
        return _SWITCH_WORDS[text.strip().lower()]
    except KeyError:
        raise ValueError("running or stopped (also on/off, true/false, 1/0)") from None


def _http_url(text: str) -> str:
    if not text.startswith(("http://", "https://")):
        raise ValueError("an http:// or https:// URL")
    return text.rstrip("/")


def _dbt_target(text: str) -> str:
    if text not in ("duckdb", "duckdb_gcs", "bigquery"):
        raise ValueError("duckdb, duckdb_gcs or bigquery")
    return text


def _bigquery_clean_layer(text: str) -> str:
    if text not in ("external_table", "load_job"):
        raise ValueError("external_table or load_job")
    return text


def _text(text: str) -> str:
    return text


def _byte_count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ValueError("a whole number of bytes from 1024 to 2147483647") from None
    if not 1024 <= value <= (1 << 31) - 1:
        raise ValueError("a whole number of bytes from 1024 to 2147483647")
    return value


def absolute_lake_url(url: str) -> str:
    """A folder or ``file://`` lake as an absolute path (a relative one resolved against the working
    directory); any other URL (``gs://...``) as given. Done once, in ``Settings``, so that landing,
    the CLI and dbt (which runs in ``mta_lake/warehouse/``) all see the same folder."""
    scheme, _, rest = url.partition("://")
    if rest and scheme != "file":
        return url
    if rest:
        host, slash, path = rest.partition("/")
        if host not in ("", "localhost"):  # file://host/path: no host but this one
            return url  # left for parse_lake_url to judge
        path = slash + path
    else:
        path = url.removeprefix("file:")
    return str(Path(path).expanduser().resolve())


def _is_set(text: str) -> bool:
    return bool(text)


def _setting(
    variable: str,
    default: Any,
    meaning: str,
    parse: Callable[[str], Any] = _text,
    *,
    shown_default: str | None = None,
    secret: bool = False,
    runs: bool = False,
) -> Any:
    """A dataclass field bound to an environment variable; ``runs``: a run worker acts on it."""
    return field(
        default=default,
        metadata={
            "variable": variable,
            "meaning": meaning,
            "parse": parse,
            "shown_default": shown_default if shown_default is not None else str(default),
            "secret": secret,
            "runs": runs,
        },
    )


@dataclass(frozen=True)
class Settings:
    """The platform's settings. ``Settings()`` is the defaults; ``Settings.from_env()`` the environment."""

    # -- where things are --------------------------------------------------------------------
    site_url: str = _setting(
        "MTA_SITE_URL",
        DEFAULT_SITE_URL,
        "the MTA developer site, or a mirror laid out the same way (`turnstile.html`, `data/nyct/turnstile/`)",
        _http_url,
        runs=True,
    )
    lake_url: str = _setting(
        "MTA_LAKE_URL",
        str(DEFAULT_LAKE_PATH),
        "the lake: a folder, `file:///path`, or `gs://bucket[/prefix]`. A relative folder is resolved "
        "once, against the working directory of the process reading the settings, so landing, the CLI "
        "and dbt all use the same absolute folder",
        shown_default="`data/lake` in the checkout",
        runs=True,
    )
    gcs_service_account_json_set: bool = _setting(
        "MTA_GCS_SERVICE_ACCOUNT_JSON",
        False,
        "a service-account key as JSON text, used before GOOGLE_APPLICATION_CREDENTIALS, an emulator's "
        "anonymous access and Application Default Credentials, by runs, sensors, the CLI and dbt alike "
        "(`mta_lake.core.lake.open_lake`; secret: passed to Dagster as an EnvVar, never read into settings)",
        _is_set,
        shown_default="unset: Application Default Credentials",
        secret=True,
        runs=True,
    )
    ui_url: str | None = _setting(
        "MTA_DAGSTER_UI_URL",
        None,
        "the Dagster UI's address: run links in alerts, and the `mta-lake` CLI's default `--url` "
        "(`status` asks Dagster only when it is set)",
        _http_url,
        shown_default=f"unset: `{DEFAULT_UI_URL}`",
    )
    # -- landing -----------------------------------------------------------------------------
    weeks_per_run: int = _setting(
        "MTA_WEEKS_PER_RUN",
        26,
        "weeks per backfill run (`raw_turnstile`'s BackfillPolicy): start-up cost against retry cost",
        _whole(1, 520),
        runs=True,
    )
    late_file_retry_seconds: float = _setting(
        "MTA_LATE_FILE_RETRY_SECONDS",
        3600.0,
        "wait between attempts at the week that just ended while its file is not up yet",
        _positive_number,
        runs=True,
    )
    late_file_grace_hours: float = _setting(
        "MTA_LATE_FILE_GRACE_HOURS",
        PUBLICATION_GRACE.total_seconds() / 3600,
        "how long after a week ends a missing file counts as late (retried) rather than not published",
        _positive_number,
        runs=True,
    )
    # -- limits on one download from the source (mta_lake.core.source) ------------------------
    max_index_bytes: int = _setting(
        "MTA_MAX_INDEX_BYTES",
        DEFAULT_MAX_INDEX_BYTES,
        "the most bytes of the MTA index page read; a larger page is refused while it streams, as "
        "the source's error",
        _byte_count,
        shown_default="`8388608` (8 MiB)",
        runs=True,
    )
    max_week_bytes: int = _setting(
        "MTA_MAX_WEEK_BYTES",
        DEFAULT_MAX_WEEK_BYTES,
        "the most bytes of one week's file, decompressed: a larger download is refused while it "
        "streams, and the clean layer refuses to decompress a larger raw object (a gzip bomb)",
        _byte_count,
        shown_default="`268435456` (256 MiB)",
        runs=True,
    )
    download_deadline_seconds: float = _setting(
        "MTA_DOWNLOAD_DEADLINE_SECONDS",
        DEFAULT_DOWNLOAD_DEADLINE_SECONDS,
        "the longest one download (index page, file or HEAD) may take from its request to its last "
        "byte, however slowly the server keeps sending; then its connection is closed and it is "
        "retried as a transient failure",
        _positive_number,
        runs=True,
    )
    # -- the source as a whole (mta_lake.core.source_state) ---------------------------------
    source_stale_weeks: int = _setting(
        "MTA_SOURCE_STALE_WEEKS",
        4,
        "when the newest file on the MTA index page is more than this many weeks old, the source "
        "looks discontinued: the weekly schedule skips its ticks with that reason, the "
        "`watch_mta_index` sensor says so once (log, observation, alert) and again when files "
        "reappear, and `mta-lake status` prints it",
        _whole(1, 520),
    )
    index_watch_interval_seconds: int = _setting(
        "MTA_INDEX_WATCH_INTERVAL_SECONDS",
        600,
        "minimum seconds between two ticks of the `watch_mta_index` sensor, which reads the index "
        "page, keeps the weeks the MTA never published out of the partitions (`state/published_files.json` "
        "in the lake) and watches for a discontinued source",
        _whole(5, 86400),
    )
    index_watch_running: bool = _setting(
        "MTA_INDEX_WATCH_SENSOR",
        True,
        "whether the `watch_mta_index` sensor starts `running` (it lands nothing) or `stopped` (every "
        "week since 2010 then stays a partition)",
        _switch,
        shown_default="running",
    )
    # -- keeping the lake complete -----------------------------------------------------------
    reconcile_sensor_running: bool = _setting(
        "MTA_RECONCILE_SENSOR",
        False,
        "whether the reconciliation sensor starts `running` or `stopped`. Stopped by default, so that "
        "`make dev` does not start landing the whole history (~25 GB) on its own; the production "
        "stack (docker-compose.yaml, Helm values) sets it running",
        _switch,
        shown_default="stopped",
    )
    reconcile_interval_seconds: int = _setting(
        "MTA_RECONCILE_INTERVAL_SECONDS",
        120,
        "minimum seconds between two reconciliation ticks",
        _whole(5, 86400),
    )
    reconcile_max_weeks: int | None = _setting(
        "MTA_RECONCILE_MAX_WEEKS",
        None,
        "most weeks one reconciliation tick requests (one asset backfill)",
        _whole(1, 10000),
        shown_default="4 x MTA_WEEKS_PER_RUN",
    )
    reconcile_max_records: int = _setting(
        "MTA_RECONCILE_MAX_RECORDS",
        500,
        "most weeks found in the lake that one tick records without downloading",
        _whole(1, 100000),
    )
    reconcile_retry_hours: float = _setting(
        "MTA_RECONCILE_RETRY_HOURS",
        6.0,
        "hours before the sensor requests again a week whose request did not land it",
        _positive_number,
    )
    # -- the mart ----------------------------------------------------------------------------
    warehouse_path: str = _setting(
        "MTA_WAREHOUSE_PATH",
        str(DEFAULT_WAREHOUSE_PATH),
        "the DuckDB file of the ridership mart (dbt's work files go beside it, in `dbt/`)",
        shown_default="`data/warehouse/mta.duckdb` in the checkout",
        runs=True,
    )
    duckdb_memory_limit: str = _setting(
        "MTA_DUCKDB_MEMORY_LIMIT",
        DEFAULT_DUCKDB_MEMORY_LIMIT,
        "DuckDB's memory limit while dbt builds the mart (larger sorts spill to `<warehouse>.tmp/`)",
        runs=True,
    )
    warehouse_target: str | None = _setting(
        "MTA_WAREHOUSE_TARGET",
        None,
        "the dbt target of the mart: `duckdb` (lake in a folder), `duckdb_gcs` (lake in GCS, read "
        "through gcsfs) or `bigquery` (the profile's BigQuery variables, docs/SETTINGS.md)",
        _dbt_target,
        shown_default="unset: `duckdb` or `duckdb_gcs`, from MTA_LAKE_URL",
        runs=True,
    )
    # -- the mart: its lock and what its dbt profile reads (mta_lake/warehouse/profiles.yml) ----
    mart_lock_timeout_seconds: float = _setting(
        "MTA_MART_LOCK_TIMEOUT_SECONDS",
        1800.0,
        "longest a mart run (or `mta-lake ridership`) waits for the warehouse while another run writes "
        "it (one writer per DuckDB file); past it the run fails saying who holds the warehouse since when",
        _positive_number,
        runs=True,
    )
    bigquery_method: str = _setting(
        "MTA_BIGQUERY_METHOD",
        "oauth",
        "the `bigquery` target's authentication: `oauth` (Application Default Credentials) or `service-account`",
        runs=True,
    )
    bigquery_keyfile: str = _setting(
        "MTA_BIGQUERY_KEYFILE",
        "",
        "the `bigquery` target's service-account key file (with `MTA_BIGQUERY_METHOD=service-account`)",
        shown_default="unset",
        runs=True,
    )
    bigquery_project: str = _setting(
        "MTA_BIGQUERY_PROJECT", "mta-lake", "the `bigquery` target's GCP project", runs=True
    )
    bigquery_dataset: str = _setting(
        "MTA_BIGQUERY_DATASET", "mta_mart", "the `bigquery` target's dataset (the mart's tables)", runs=True
    )
    bigquery_location: str = _setting(
        "MTA_BIGQUERY_LOCATION", "US", "the `bigquery` target's dataset location", runs=True
    )
    bigquery_clean_layer: str = _setting(
        "MTA_BIGQUERY_CLEAN_LAYER",
        "external_table",
        "how the `bigquery` target reads the clean layer: `external_table` (an external table over the lake's "
        "Parquet in GCS, nothing copied: production) or `load_job` (each run's weeks loaded from the same "
        "objects by BigQuery load jobs before dbt runs: what the BigQuery emulator supports; "
        "mta_lake/core/mart/bigquery_lake.py)",
        _bigquery_clean_layer,
        runs=True,
    )
    bigquery_dbt_executable: str | None = _setting(
        "MTA_BIGQUERY_DBT_EXECUTABLE",
        None,
        "the `dbt` that runs the `bigquery` target when dbt-bigquery is not installed beside the platform (it "
        "needs an older google-cloud-storage): e.g. `.venv-bigquery/bin/dbt`, which `.ci/bigquery-venv` builds",
        shown_default="unset: the platform's own dbt (dbt-bigquery installed beside it)",
        runs=True,
    )
    # -- alerts ------------------------------------------------------------------------------
    slack_webhook_set: bool = _setting(
        "MTA_SLACK_WEBHOOK_URL",
        False,
        "a Slack incoming webhook: failed runs are posted there (secret: read when an alert is sent)",
        _is_set,
        shown_default="unset: no Slack alerts",
        secret=True,
    )
    alert_webhook_set: bool = _setting(
        "MTA_ALERT_WEBHOOK_URL",
        False,
        "any URL accepting a JSON POST of each failed run (secret: read when an alert is sent)",
        _is_set,
        shown_default="unset: no webhook alerts",
        secret=True,
    )
    alert_interval_seconds: int = _setting(
        "MTA_ALERT_INTERVAL_SECONDS",
        15,
        "minimum seconds between two ticks of the run-failure alert sensor",
        _whole(1, 3600),
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "lake_url", absolute_lake_url(self.lake_url))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        """The settings the environment describes; ``SettingsError`` names any bad variable."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for spec in fields(cls):
            variable = spec.metadata["variable"]
            raw = env.get(variable, "")
            if raw.strip() == "":
                continue  # unset and empty both mean the default
            try:
                values[spec.name] = spec.metadata["parse"](raw.strip())
            except ValueError as error:
                shown = "(secret value not shown)" if spec.metadata["secret"] else repr(raw)
                raise SettingsError(f"{variable}={shown}: expected {error}") from None
        return cls(**values)

    # -- derived values: one definition each ---------------------------------------------------
    @property
    def ui_address(self) -> str:
        """Where the UI is: ``MTA_DAGSTER_UI_URL``, else the local default."""
        return self.ui_url or DEFAULT_UI_URL

    @property
    def late_file_grace_seconds(self) -> float:
        return self.late_file_grace_hours * 3600

    @property
    def reconcile_weeks_per_tick(self) -> int:
        return self.reconcile_max_weeks or 4 * self.weeks_per_run

    @property
    def reconcile_retry_seconds(self) -> float:
        return self.reconcile_retry_hours * 3600


@dataclass(frozen=True)
class SettingDoc:
    variable: str
    default: str
    meaning: str
    secret: bool
    runs: bool


def documented() -> list[SettingDoc]:
    """One row per variable, in declaration order: what ``docs/SETTINGS.md`` must list."""
    return [
        SettingDoc(
            variable=spec.metadata["variable"],
            default=spec.metadata["shown_default"],
            meaning=spec.metadata["meaning"],
            secret=spec.metadata["secret"],
            runs=spec.metadata["runs"],
        )
        for spec in fields(Settings)
    ]


def markdown_table() -> str:
    """The table of ``docs/SETTINGS.md``, as this module declares it."""
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    for doc in documented():
        default = doc.default if doc.default.startswith(("`", "unset", "4 x")) else f"`{doc.default}`"
        lines.append(f"| `{doc.variable}` | {default} | {doc.meaning} |")
    return "\n".join(lines)


def secret(variable: str, environ: Mapping[str, str] | None = None) -> str | None:
    """A secret's value, read only at the moment it is used (a webhook post); never kept."""
    env = os.environ if environ is None else environ
    return env.get(variable) or None
