"""Every GraphQL query and mutation the client sends, in one place (the UI's own operations, where it has one)."""

VERSION_QUERY = "query Version { version }"

LAUNCH_BACKFILL_MUTATION = """
mutation LaunchPartitionBackfill($backfillParams: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $backfillParams) {
    __typename
    ... on LaunchBackfillSuccess { backfillId launchedRunIds }
    ... on Error { message }
    ... on PythonError { message stack }
    ... on InvalidStepError { invalidStepKey }
    ... on InvalidOutputError { stepKey invalidOutputName }
    ... on RunConfigValidationInvalid { pipelineName errors { message } }
  }
}
"""

FIND_BACKFILL_QUERY = """
query FindBackfill($filters: BulkActionsFilter, $limit: Int) {
  partitionBackfillsOrError(filters: $filters, limit: $limit) {
    __typename
    ... on PartitionBackfills { results { id tags { key value } } }
    ... on Error { message }
  }
}
"""

# One poll: the backfill's own status and counts, and its runs not finished yet (no event logs).
BACKFILL_PROGRESS_QUERY = """
query BackfillProgress($backfillId: String!) {
  partitionBackfillOrError(backfillId: $backfillId) {
    __typename
    ... on PartitionBackfill {
      id
      status
      numPartitions
      error { message }
      assetBackfillData {
        assetBackfillStatuses {
          __typename
          ... on AssetPartitionsStatusCounts {
            assetKey { path }
            numPartitionsTargeted
            numPartitionsInProgress
            numPartitionsMaterialized
            numPartitionsFailed
          }
        }
      }
      unfinishedRuns { status }
    }
    ... on Error { message }
  }
}
"""

RUNS_QUERY = """
query BackfillRuns($filter: RunsFilter!, $cursor: String, $limit: Int) {
  runsOrError(filter: $filter, cursor: $cursor, limit: $limit) {
    __typename
    ... on Runs {
      results {
        runId
        status
        tags { key value }
        assetSelection { path }
        assetMaterializations { partition assetKey { path } }
      }
    }
    ... on Error { message }
  }
}
"""

RUN_ERRORS_QUERY = """
query RunErrors($runId: ID!, $cursor: String) {
  runOrError(runId: $runId) {
    __typename
    ... on Run {
      eventConnection(afterCursor: $cursor, limit: 1000) {
        cursor
        hasMore
        events {
          __typename
          ... on ExecutionStepFailureEvent {
            message
            error { message }
            errorSource
            failureMetadata { description }
          }
          ... on RunFailureEvent { message error { message } }
        }
      }
    }
    ... on Error { message }
  }
}
"""

PARTITION_STATUS_QUERY = """
query AssetPartitions($assetKey: AssetKeyInput!) {
  assetNodeOrError(assetKey: $assetKey) {
    __typename
    ... on AssetNode {
      assetPartitionStatuses {
        __typename
        ... on DefaultPartitionStatuses { materializedPartitions failedPartitions materializingPartitions }
      }
    }
    ... on Error { message }
  }
}
"""

PARTITION_KEYS_QUERY = """
query AssetPartitionKeys($assetKey: AssetKeyInput!) {
  assetNodeOrError(assetKey: $assetKey) {
    __typename
    ... on AssetNode {
      partitionKeysByDimension { partitionKeys }
      repository { name location { name } }
    }
    ... on Error { message }
  }
}
"""

ADD_PARTITION_MUTATION = """
mutation AddPartition(
  $repositorySelector: RepositorySelector!, $partitionsDefName: String!, $partitionKey: String!
) {
  addDynamicPartition(
    repositorySelector: $repositorySelector, partitionsDefName: $partitionsDefName, partitionKey: $partitionKey
  ) {
    __typename
    ... on AddDynamicPartitionSuccess { partitionKey }
    ... on DuplicateDynamicPartitionError { partitionName }
    ... on Error { message }
  }
}
"""

LAUNCH_RUN_MUTATION = """
mutation LaunchRun($executionParams: ExecutionParams!) {
  launchRun(executionParams: $executionParams) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on Error { message }
    ... on PythonError { message stack }
    ... on RunConfigValidationInvalid { pipelineName errors { message } }
  }
}
"""

FIND_RUN_QUERY = """
query FindRun($filter: RunsFilter!) {
  runsOrError(filter: $filter, limit: 5) {
    __typename
    ... on Runs { results { runId } }
    ... on Error { message }
  }
}
"""

RUN_QUERY = """
query RunProgress($runId: ID!) {
  runOrError(runId: $runId) {
    __typename
    ... on Run { runId status tags { key value } assetSelection { path } assetMaterializations { partition assetKey { path } } }
    ... on Error { message }
  }
}
"""
