"""The mart's dbt project as dagster-dbt prepares it: ``DbtProject`` and its manifest.

dagster-dbt's own project preparation, not a cache of ours: under ``dagster dev``, ``prepare_if_dev()``
parses the project each time the code loads (dagster-dbt's lock keeps processes from parsing at once; a
whole parse, ``parse_args`` says why). For a deployment, ``dagster-dbt project prepare-and-package
--file mta_lake/defs/mart/project.py`` parses it once when the image is built (the Dockerfile). A checkout
used outside ``dagster dev`` (the tests, ``mta-lake``, ``dagster definitions validate``) is prepared the
first time it has no manifest; after changing the dbt project there, run that same command (or use
``make dev``).

The manifest is parsed with a DuckDB target whatever target runs the mart (``Warehouse.parse_target``):
the model graph is the same, and a target whose adapter is not installed then fails its runs, in one
line, instead of the code location's load. It is parsed with the runs' --vars (the run's weeks are in a
table, not in --vars: ``run_weeks_build_args``), so each run reuses this parse (dagster-dbt copies
``partial_parse.msgpack`` into the run's target path) instead of parsing the project again. Runs never
write here: each writes to a target path of its own beside the warehouse (``Warehouse.run_target_path``);
a preparation writes beside ``target/`` and moves each file in whole (``MartProjectPreparer``). So the
manifest the processes load is never rewritten under them.
"""

import os
import shutil
import sys

from dagster_dbt import DbtCliResource, DbtProject
from dagster_dbt.dbt_project import DagsterDbtProjectPreparer

from mta_lake.core.mart.dbt_project import PROJECT_DIR, dbt_executable, parse_args, warehouse_from_settings
from mta_lake.defs.environment import SETTINGS


class MartProjectPreparer(DagsterDbtProjectPreparer):
    """dagster-dbt's preparer (its lock against two processes parsing at once), with two changes: it runs
    the venv's ``dbt`` (the default looks for ``dbt`` on PATH, where ``.venv/bin/dagster dev`` and
    ``.venv/bin/pytest`` do not put it), and it parses into a folder of its own and then moves each file
    into ``target/`` whole (a rename), manifest last: a process loading the code meanwhile reads the old
    manifest or the new one, never half of one. (dagster-dbt's seed invalidation, for a manifest parsed on
    another machine, has nothing to do here: the checkout is the one that runs.)"""

    def _prepare_manifest(self, project: DbtProject) -> None:
        target = project.project_dir / project.target_path
        staging = project.project_dir / f"{project.target_path}.staging-{os.getpid()}"
        try:
            DbtCliResource(project_dir=project, dbt_executable=dbt_executable()).cli(
                self._prepare_project_cli_args, target_path=staging
            ).wait()
            target.mkdir(parents=True, exist_ok=True)
            for name in ("partial_parse.msgpack", "semantic_manifest.json", "manifest.json"):
                if (staging / name).exists():
                    os.replace(staging / name, target / name)
        finally:
            shutil.rmtree(staging, ignore_errors=True)


_WAREHOUSE = warehouse_from_settings(SETTINGS)
MART_PROJECT = DbtProject(
    project_dir=PROJECT_DIR,
    profiles_dir=PROJECT_DIR,
    target=_WAREHOUSE.parse_target,
    prepare_project_cli_args=parse_args(_WAREHOUSE),
)


def _is_run_worker() -> bool:
    """A process Dagster started to execute a run (``dagster api execute_run`` / ``resume_run`` /
    ``execute_step``). Under ``dagster dev`` it loads the code its code server prepared moments before,
    from the same files: preparing again would cost each run a parse of the project (about 4 s)."""
    return any(command in sys.argv for command in ("execute_run", "resume_run", "execute_step"))


# prepare_if_dev() (in the code server's processes), and a first preparation of a checkout that has none
# (outside `dagster dev`).
_preparer = MartProjectPreparer(prepare_project_cli_args=parse_args(_WAREHOUSE))
if (_preparer.using_dagster_dev() and not _is_run_worker()) or not MART_PROJECT.manifest_path.exists():
    _preparer.prepare(MART_PROJECT)
