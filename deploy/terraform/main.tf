# What mta_lake needs in Google Cloud: the lake bucket and the pipeline's service account, which
# may use that bucket's objects and nothing else -- and, only when the mart's target is BigQuery
# (var.warehouse_target), the BigQuery API, the mart's dataset and the two BigQuery roles it needs.
# The optional VM that runs the Docker Compose stack is in vm.tf. Steps from an empty project:
# docs/DEPLOY.md ("Terraform").

locals {
  labels = merge(
    {
      app        = "mta-lake"
      component  = "data-lake"
      managed-by = "terraform"
    },
    var.labels,
  )

  zone         = var.zone != null ? var.zone : "${var.region}-b"
  mta_lake_url = var.lake_prefix == "" ? "gs://${google_storage_bucket.lake.name}" : "gs://${google_storage_bucket.lake.name}/${var.lake_prefix}"

  apis = concat(
    ["iam.googleapis.com", "storage.googleapis.com"],
    var.warehouse_target == "bigquery" ? ["bigquery.googleapis.com"] : [],
    var.create_vm ? ["compute.googleapis.com", "iap.googleapis.com", "oslogin.googleapis.com"] : [],
  )
}

# Left enabled on destroy (the provider's default since 7.0): other things in the project may use them.
resource "google_project_service" "apis" {
  for_each = var.enable_apis ? toset(local.apis) : toset([])

  project            = var.project_id
  service            = each.value
  disable_on_destroy = false
}

# --- The lake ------------------------------------------------------------------------------------

resource "google_storage_bucket" "lake" {
  # Access and storage logs are a legacy feature that needs a second bucket (which would need the
  # same treatment); object reads and writes are audited with Cloud Audit Logs' Data Access logs
  # for Cloud Storage instead (docs/DEPLOY.md, "Terraform").
  #checkov:skip=CKV_GCP_62:usage logs need a second bucket; Cloud Audit Logs data-access logging is the recommended audit trail (docs/DEPLOY.md)

  project       = var.project_id
  name          = var.bucket_name
  location      = upper(var.region)
  storage_class = "STANDARD"
  labels        = local.labels
  force_destroy = var.force_destroy

  # IAM only, no ACLs on the bucket or its objects; never public, whatever IAM says.
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"

  # A re-land overwrites a week's object: the previous version stays, noncurrent, for
  # noncurrent_version_retention_days, so a bad re-land can be undone (docs/DEPLOY.md).
  versioning {
    enabled = true
  }

  lifecycle_rule {
    condition {
      with_state                 = "ARCHIVED"
      days_since_noncurrent_time = var.noncurrent_version_retention_days
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.apis]
}

# --- The pipeline's identity ---------------------------------------------------------------------

resource "google_service_account" "pipeline" {
  project      = var.project_id
  account_id   = var.service_account_id
  display_name = "mta_lake pipeline"
  description  = "Lands MTA turnstile files in gs://${var.bucket_name}: object access on that bucket only (deploy/terraform)."

  depends_on = [google_project_service.apis]
}

# The only role the pipeline holds, and only on the lake bucket: Storage Object User lets it
# create, read, overwrite (update, delete) and list objects, which is all mta_lake does
# (docs/OPERATIONS.md, "Pointing it at a real bucket"). Narrower than Storage Object Admin, which adds object
# and managed-folder IAM administration. Nothing project-wide.
resource "google_storage_bucket_iam_member" "pipeline_objects" {
  bucket = google_storage_bucket.lake.name
  role   = "roles/storage.objectUser"
  member = google_service_account.pipeline.member
}

# Workload Identity (GKE, or a Workload Identity Federation pool): these principals may act as the
# service account, so no key is needed. A grant ON the account, not to it.
resource "google_service_account_iam_member" "workload_identity" {
  for_each = toset(var.workload_identity_members)

  service_account_id = google_service_account.pipeline.name
  role               = "roles/iam.workloadIdentityUser"
  member             = each.value
}

# Opt-in only (create_service_account_key = true), for a host outside Google Cloud that cannot use
# Workload Identity Federation. The private key is kept in the Terraform state: keep the state
# somewhere private (docs/DEPLOY.md).
resource "google_service_account_key" "pipeline" {
  count = var.create_service_account_key ? 1 : 0

  service_account_id = google_service_account.pipeline.name
}

# --- The mart in BigQuery (var.warehouse_target = "bigquery" only) -----------------------------
# With the default target (duckdb_gcs) the mart is a DuckDB file that reads the lake through the
# bucket grant above: nothing here is created. With BigQuery, the pipeline runs query jobs in the
# project (roles/bigquery.jobUser: jobs only, no data) and reads and writes tables in the mart's
# dataset and nowhere else (roles/bigquery.dataEditor on that dataset); the external table over the
# clean layer reads the lake with the same account's bucket grant.

resource "google_bigquery_dataset" "mart" {
  # Google-managed encryption at rest, like the bucket; a customer-managed key would need a KMS key
  # ring this module does not own.
  #checkov:skip=CKV_GCP_81:Google-managed encryption at rest, as for the lake bucket; no KMS key ring in this module

  count = var.warehouse_target == "bigquery" ? 1 : 0

  project     = var.project_id
  dataset_id  = var.bigquery_dataset
  location    = var.region # the lake bucket's region: an external table must be in the same location
  description = "mta_lake: the ridership mart (dbt target bigquery)."
  labels      = local.labels

  depends_on = [google_project_service.apis]
}

resource "google_bigquery_dataset_iam_member" "pipeline_mart" {
  count = var.warehouse_target == "bigquery" ? 1 : 0

  project    = var.project_id
  dataset_id = google_bigquery_dataset.mart[0].dataset_id
  role       = "roles/bigquery.dataEditor"
  member     = google_service_account.pipeline.member
}

resource "google_project_iam_member" "pipeline_bigquery_jobs" {
  count = var.warehouse_target == "bigquery" ? 1 : 0

  project = var.project_id
  role    = "roles/bigquery.jobUser"
  member  = google_service_account.pipeline.member
}
