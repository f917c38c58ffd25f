"""Looking up what the instance records: an asset's partitions and their statuses; adding partitions.

``turnstile_weeks`` is a set of partition keys held by the instance (the published weeks, kept by the
``watch_mta_index`` sensor; ``mta_lake.core.published_weeks``). The CLI reads them before it launches,
and adds a published week the sensor has not added yet (the UI's own "Add partition" mutation).
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from mta_lake.core.layout import RAW_TURNSTILE
from mta_lake.tools.graphql.errors import GraphQLError
from mta_lake.tools.graphql.queries import (
    ADD_PARTITION_MUTATION,
    PARTITION_KEYS_QUERY,
    PARTITION_STATUS_QUERY,
)
from mta_lake.tools.graphql.transport import GraphQLTransport, asset_key_input


@dataclass(frozen=True)
class AssetPartitions:
    """An asset's partition keys, in their order, and where the asset is defined."""

    keys: tuple[str, ...]
    repository: str
    location: str


def read_asset_partitions(
    transport: GraphQLTransport, asset_key: str | Sequence[str] = RAW_TURNSTILE
) -> AssetPartitions:
    """The asset's partition keys in their order, and its repository (one request)."""
    node = transport.execute(PARTITION_KEYS_QUERY, {"assetKey": asset_key_input(asset_key)})[
        "assetNodeOrError"
    ]
    if node["__typename"] != "AssetNode":
        raise GraphQLError(f"asset {asset_key!r} not found on {transport.url}: {node.get('message')}")
    dimensions = node.get("partitionKeysByDimension") or []
    keys = tuple(dimensions[0]["partitionKeys"]) if dimensions else ()
    repository = node["repository"]
    return AssetPartitions(keys, repository["name"], repository["location"]["name"])


class LookupCalls(GraphQLTransport):
    """What the instance records about an asset's partitions."""

    def asset_partitions(self, asset_key: str | Sequence[str] = RAW_TURNSTILE) -> AssetPartitions:
        """The asset's partition keys (for ``turnstile_weeks``: the published weeks, in week order)."""
        return read_asset_partitions(self, asset_key)

    def add_partitions(self, partitions: AssetPartitions, partitions_def: str, keys: Iterable[str]) -> None:
        """Add partition keys (one request each, in order), as the UI's "Add partition" does."""
        selector = {"repositoryName": partitions.repository, "repositoryLocationName": partitions.location}
        for key in keys:
            result = self.execute(
                ADD_PARTITION_MUTATION,
                {"repositorySelector": selector, "partitionsDefName": partitions_def, "partitionKey": key},
            )["addDynamicPartition"]
            if result["__typename"] not in ("AddDynamicPartitionSuccess", "DuplicateDynamicPartitionError"):
                raise GraphQLError(f"could not add partition {key} on {self.url}: {result.get('message')}")

    def partition_statuses(self, asset_key: str | Sequence[str] = RAW_TURNSTILE) -> dict[str, set[str]]:
        """Weeks Dagster records as ``materialized``, ``failed`` and ``materializing``."""
        data = self.execute(PARTITION_STATUS_QUERY, {"assetKey": asset_key_input(asset_key)})
        node = data["assetNodeOrError"]
        if node["__typename"] != "AssetNode":
            raise GraphQLError(f"asset {asset_key!r} not found on {self.url}: {node.get('message')}")
        statuses = node["assetPartitionStatuses"]
        found: dict[str, set[str]] = {"materialized": set(), "failed": set(), "materializing": set()}
        if statuses["__typename"] == "DefaultPartitionStatuses":
            found["materialized"].update(statuses["materializedPartitions"])
            found["failed"].update(statuses["failedPartitions"])
            found["materializing"].update(statuses["materializingPartitions"])
        return found
