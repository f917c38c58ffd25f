"""GraphQL calls only the tests make (the UI's sensor toggle, a run's status, events and Terminate button), over the project's client."""

from __future__ import annotations

from mta_lake.tools.graphql import DagsterGraphQL, GraphQLError

SENSOR_LOCATIONS_QUERY = """
query SensorLocations {
  repositoriesOrError {
    __typename
    ... on RepositoryConnection { nodes { name location { name } sensors { name } } }
    ... on Error { message }
  }
}
"""

START_SENSOR_MUTATION = """
mutation StartSensor($sensorSelector: SensorSelector!) {
  startSensor(sensorSelector: $sensorSelector) {
    __typename
    ... on Sensor { name sensorState { status } }
    ... on Error { message }
  }
}
"""

RUN_STATUS_QUERY = """
query RunStatus($runId: ID!) {
  runOrError(runId: $runId) {
    __typename
    ... on Run { status }
    ... on RunNotFoundError { message }
    ... on PythonError { message }
  }
}
"""

TERMINATE_RUN_MUTATION = """
mutation Terminate($runId: String!) {
  terminateRun(runId: $runId, terminatePolicy: SAFE_TERMINATE) {
    __typename
    ... on TerminateRunFailure { message }
    ... on Error { message }
  }
}
"""

RUN_EVENTS_QUERY = """
query RunEvents($runId: ID!, $afterCursor: String) {
  logsForRun(runId: $runId, afterCursor: $afterCursor) {
    __typename
    ... on EventConnection { events { __typename ... on StepEvent { stepKey } } cursor hasMore }
    ... on RunNotFoundError { message }
    ... on PythonError { message }
  }
}
"""


def sensor_selector(client: DagsterGraphQL, sensor_name: str) -> dict[str, str]:
    """Where ``sensor_name`` lives: its code location and repository."""
    result = client.execute(SENSOR_LOCATIONS_QUERY)["repositoriesOrError"]
    if result["__typename"] != "RepositoryConnection":
        raise GraphQLError(f"cannot list repositories on {client.url}: {result.get('message')}")
    for repository in result["nodes"]:
        if any(sensor["name"] == sensor_name for sensor in repository["sensors"]):
            return {
                "repositoryName": repository["name"],
                "repositoryLocationName": repository["location"]["name"],
                "sensorName": sensor_name,
            }
    raise GraphQLError(f"no sensor named {sensor_name!r} on {client.url}")


def start_sensor(client: DagsterGraphQL, sensor_name: str) -> str:
    """Start a sensor (as the UI's toggle does); return its new status."""
    selector = sensor_selector(client, sensor_name)
    result = client.execute(START_SENSOR_MUTATION, {"sensorSelector": selector})["startSensor"]
    if result["__typename"] != "Sensor":
        raise GraphQLError(
            f"sensor {sensor_name!r} not started: {result.get('message', result['__typename'])}"
        )
    return result["sensorState"]["status"]


def run_status(client: DagsterGraphQL, run_id: str) -> str:
    """A run's ``DagsterRunStatus`` name: QUEUED, STARTED, SUCCESS, FAILURE, CANCELED, ..."""
    result = client.execute(RUN_STATUS_QUERY, {"runId": run_id})["runOrError"]
    if result["__typename"] != "Run":
        raise GraphQLError(f"run {run_id}: {result.get('message', result['__typename'])}")
    return result["status"]


def terminate_run(client: DagsterGraphQL, run_id: str) -> None:
    """Terminate a run as the run page's Terminate button does (the run goes CANCELING, then CANCELED)."""
    result = client.execute(TERMINATE_RUN_MUTATION, {"runId": run_id})["terminateRun"]
    if result["__typename"] != "TerminateRunSuccess":
        raise GraphQLError(f"run {run_id} not terminated: {result.get('message', result['__typename'])}")


def run_event_types(client: DagsterGraphQL, run_id: str) -> list[str]:
    """The GraphQL type of each event of a run so far, in order (``ExecutionStepFailureEvent``, ...),
    as the run's page in the UI reads them."""
    types: list[str] = []
    cursor = None
    while True:
        result = client.execute(RUN_EVENTS_QUERY, {"runId": run_id, "afterCursor": cursor})["logsForRun"]
        if result["__typename"] != "EventConnection":
            raise GraphQLError(f"run {run_id}: {result.get('message', result['__typename'])}")
        types += [event["__typename"] for event in result["events"]]
        cursor = result["cursor"]
        if not result["hasMore"]:
            return types


def wait_for_partitions(client: DagsterGraphQL, keys: list[str], timeout: float = 120.0) -> list[str]:
    """Wait until every key is a partition of ``turnstile_weeks`` (the index sensor adds the published
    weeks on its first tick, seconds after the daemon starts); return the partitions then."""
    import time

    deadline = time.monotonic() + timeout
    found: tuple[str, ...] = ()
    while time.monotonic() < deadline:
        found = client.asset_partitions().keys
        if set(keys) <= set(found):
            return list(found)
        time.sleep(1)
    raise AssertionError(f"not partitions after {timeout:.0f} s: {sorted(set(keys) - set(found))}")
