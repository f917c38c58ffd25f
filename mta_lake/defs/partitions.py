"""``turnstile_weeks``: one partition per published MTA weekly file, keyed by the Saturday a week starts.

The keys are the weeks the MTA published (and any week already in the lake), held by the Dagster
instance as dynamic partitions: the ``watch_mta_index`` sensor adds a week when its file appears on
the index page and removes a week whose file never came, the weekly schedule adds the week it
launches. The rules, and why the keys stay in week order, are in ``mta_lake.core.published_weeks``.

Why dynamic partitions and not ``WeeklyPartitionsDefinition(exclusions=...)``: exclusions are part of
the code location, so every change needed a reload of it, asked of the webserver at an address the
sensor had to guess (wrong for any port but 3000), and until then the UI listed every week since
2010; and a run of an excluded key resolved to a neighbouring partition, landing another week than
the one asked for. Keys in the instance are seen by every process at once and a key is exactly the
week it names. A fresh instance has no keys until the sensor's first tick (seconds after the daemon
starts), never keys that are not published.
"""

from dagster import DagsterInstance, DynamicPartitionsDefinition

from mta_lake.core.published_weeks import PARTITIONS_NAME, PartitionPlan

turnstile_weeks = DynamicPartitionsDefinition(name=PARTITIONS_NAME)


def apply_partition_plan(instance: DagsterInstance, plan: PartitionPlan) -> None:
    """Apply ``plan`` to the instance's keys directly (the CLI; the sensor returns it as requests)."""
    for key in plan.delete:
        instance.delete_dynamic_partition(PARTITIONS_NAME, key)
    if plan.add:
        instance.add_dynamic_partitions(PARTITIONS_NAME, list(plan.add))
