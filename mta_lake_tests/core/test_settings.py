"""``mta_lake.core.settings``: one declaration per variable, clear errors, and the table that documents them."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mta_lake.core.settings import DEFAULT_UI_URL, Settings, SettingsError, documented, markdown_table
from mta_lake_harness.mirror import MtaMirror
from mta_lake_harness.paths import REPO_ROOT

REPO = REPO_ROOT


def test_defaults_and_empty_values_are_the_same() -> None:
    every_variable_empty = {doc.variable: "" for doc in documented()}
    assert Settings.from_env({}) == Settings() == Settings.from_env(every_variable_empty)
    defaults = Settings()
    assert defaults.weeks_per_run == 26 and defaults.reconcile_weeks_per_tick == 104
    assert defaults.ui_url is None and defaults.ui_address == DEFAULT_UI_URL
    assert defaults.late_file_grace_seconds == 48 * 3600
    assert defaults.reconcile_sensor_running is False  # a laptop does not land 25 GB on its own


def test_values_are_parsed_and_typed() -> None:
    settings = Settings.from_env(
        {
            "MTA_WEEKS_PER_RUN": " 13 ",
            "MTA_LATE_FILE_GRACE_HOURS": "1.5",
            "MTA_RECONCILE_SENSOR": "RUNNING",
            "MTA_DAGSTER_UI_URL": "http://dagster.example:3000/",
            "MTA_RECONCILE_MAX_WEEKS": "5",
        }
    )
    assert settings.weeks_per_run == 13 and settings.reconcile_weeks_per_tick == 5
    assert settings.late_file_grace_seconds == 5400
    assert settings.reconcile_sensor_running is True
    assert settings.ui_address == "http://dagster.example:3000"


@pytest.mark.parametrize(
    ("variable", "value", "expects"),
    [
        ("MTA_WEEKS_PER_RUN", "eight", "a whole number from 1 to 520"),
        ("MTA_WEEKS_PER_RUN", "0", "a whole number from 1 to 520"),
        ("MTA_LATE_FILE_RETRY_SECONDS", "-5", "a positive number"),
        ("MTA_LATE_FILE_GRACE_HOURS", "nan", "a positive number"),
        ("MTA_RECONCILE_SENSOR", "maybe", "running or stopped (also on/off, true/false, 1/0)"),
        ("MTA_SITE_URL", "web.mta.info/developers", "an http:// or https:// URL"),
    ],
)
def test_a_bad_value_names_the_variable_and_what_it_expects(variable: str, value: str, expects: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({variable: value})
    assert str(caught.value) == f"{variable}={value!r}: expected {expects}"
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_secrets_are_only_known_to_be_set() -> None:
    secret_value = "https://hooks.slack.com/services/T000/B000/secret-token"
    settings = Settings.from_env({"MTA_SLACK_WEBHOOK_URL": secret_value})
    assert settings.slack_webhook_set is True
    assert "secret-token" not in repr(settings)
    assert {doc.variable for doc in documented() if doc.secret} == {
        "MTA_GCS_SERVICE_ACCOUNT_JSON",
        "MTA_SLACK_WEBHOOK_URL",
        "MTA_ALERT_WEBHOOK_URL",
    }


def test_the_code_location_refuses_to_load_with_a_bad_setting(tmp_path: Path) -> None:
    """At start-up, not at the first run: ``dagster definitions validate`` names the variable."""
    dagster = str(Path(sys.executable).with_name("dagster"))
    result = subprocess.run(
        [dagster, "definitions", "validate", "-m", "mta_lake.definitions"],
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", "DAGSTER_HOME": str(tmp_path), "MTA_WEEKS_PER_RUN": "lots"},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "MTA_WEEKS_PER_RUN='lots': expected a whole number from 1 to 520" in output


def test_the_settings_table_is_the_settings_module() -> None:
    text = (REPO / "docs" / "SETTINGS.md").read_text()
    table = re.search(r"<!-- settings-table: start -->\n(.*?)\n<!-- settings-table: end -->", text, re.S)
    assert table is not None, "docs/SETTINGS.md lost its table markers"
    assert table.group(1) == markdown_table(), "docs/SETTINGS.md is stale: paste markdown_table()'s output"


def test_every_mta_variable_in_the_code_is_declared_in_settings() -> None:
    declared = {doc.variable for doc in documented()}
    mentioned: set[str] = set()
    for path in (REPO / "mta_lake").rglob("*.py"):
        mentioned |= set(re.findall(r"\bMTA_[A-Z0-9_]+\b", path.read_text()))
    # Names that are not environment variables: the pool's constant.
    mentioned -= {"MTA_SOURCE_POOL"}
    assert mentioned <= declared, f"read but not declared in settings: {sorted(mentioned - declared)}"
    # And read nowhere else: no module but settings touches os.environ for an MTA_ variable.
    for path in (REPO / "mta_lake").rglob("*.py"):
        if path.name == "settings.py":
            continue
        assert not re.search(r"environ(?:\.get)?\(?\[?[\"']MTA_", path.read_text()), path


def test_a_relative_lake_url_is_one_absolute_folder_for_every_consumer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mirror: MtaMirror
) -> None:
    """Resolved once, in Settings, against the working directory: landing (the resource), the CLI
    (open_lake) and dbt (the vars its process gets; it runs in mta_lake/warehouse/, where the
    relative path used to point somewhere else) all see the same folder."""
    from mta_lake.core.lake import LocalLake, open_lake
    from mta_lake.core.mart.dbt_project import warehouse_from_settings
    from mta_lake.defs.resources import lake_resource_from_env

    monkeypatch.chdir(tmp_path)
    expected = str(tmp_path / "relative" / "lake")
    for given in ("relative/lake", "./relative/lake/", "file:relative/lake", f"file://{expected}"):
        settings = Settings.from_env({"MTA_LAKE_URL": given})
        assert settings.lake_url == expected, given
        lake = open_lake(settings)
        assert isinstance(lake, LocalLake) and str(lake.root) == expected
        assert lake_resource_from_env({"MTA_LAKE_URL": given}).path == expected
        assert warehouse_from_settings(settings).dbt_vars()["lake_url"] == expected  # what dbt is given
    assert Settings.from_env({"MTA_LAKE_URL": "gs://bucket/prefix"}).lake_url == "gs://bucket/prefix"

    # The CLI, started elsewhere with the same relative setting, reads the lake in that folder.
    from mta_lake.core.layout import raw_key

    with LocalLake(expected).writer(raw_key("turnstile_170603.txt")) as pending:
        pending.write(b"landed")
    done = subprocess.run(
        [
            str(Path(sys.executable).with_name("mta-lake")),
            "status",
            "--from",
            "2017-05-27",
            "--to",
            "2017-05-27",
            "--json",
        ],
        cwd=tmp_path,
        env={
            "PATH": "/usr/bin:/bin",
            "HOME": str(tmp_path),
            "MTA_LAKE_URL": "relative/lake",
            "MTA_SITE_URL": mirror.url,
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["weeks"]["landed"] == ["2017-05-27"]
