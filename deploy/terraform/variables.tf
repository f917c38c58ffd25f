# Inputs of the mta_lake module. Only project_id and bucket_name have no default; everything
# else starts closed: no key, no VM, no ingress from the internet. See terraform.tfvars.example
# and docs/DEPLOY.md.

# --- Where ---------------------------------------------------------------------------------------

variable "project_id" {
  type        = string
  description = "The GCP project that holds the lake, its service account and the optional VM."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a project ID (6-30 lowercase letters, digits and hyphens, starting with a letter), not its name or number."
  }
}

variable "region" {
  type        = string
  default     = "us-east4"
  description = "Region of the bucket, the VM and its network. The default (N. Virginia) is near the MTA's site."

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]+$", var.region))
    error_message = "region must be a GCP region such as us-east4 or europe-west1 (not a zone, not a multi-region)."
  }
}

variable "zone" {
  type        = string
  default     = null
  description = "Zone of the VM, in var.region. Default: <region>-b."

  validation {
    condition     = var.zone == null || can(regex("^[a-z]+-[a-z]+[0-9]+-[a-z]$", var.zone))
    error_message = "zone must be a GCP zone such as us-east4-b."
  }
}

variable "name_prefix" {
  type        = string
  default     = "mta-lake"
  description = "Prefix of the names of the VM, its network, subnet, router, NAT and firewall rule."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,39}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 2-41 lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "labels" {
  type        = map(string)
  default     = {}
  description = "Extra labels for the bucket and the VM (merged over app, component and managed-by)."

  validation {
    condition = alltrue([
      for key, value in var.labels :
      can(regex("^[a-z][a-z0-9_-]{0,62}$", key)) && can(regex("^[a-z0-9_-]{0,63}$", value))
    ])
    error_message = "Label keys must start with a lowercase letter; keys and values may hold only lowercase letters, digits, '_' and '-' (63 characters at most)."
  }
}

variable "enable_apis" {
  type        = bool
  default     = true
  description = "Enable the APIs the module uses (IAM, Cloud Storage; with the VM: Compute Engine, IAP, OS Login). They are left enabled on destroy."
}

# --- The lake ------------------------------------------------------------------------------------

variable "bucket_name" {
  type        = string
  description = "Name of the lake bucket (globally unique). MTA_LAKE_URL becomes gs://<bucket_name>/<lake_prefix>."

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9_-]{1,61}[a-z0-9]$", var.bucket_name)) && !can(regex("^goog|google|g00gle", var.bucket_name))
    error_message = "bucket_name must be 3-63 lowercase letters, digits, '-' and '_', start and end with a letter or digit, and neither start with 'goog' nor contain 'google' (names with dots need domain verification and are not accepted here)."
  }
}

variable "lake_prefix" {
  type        = string
  default     = "mta"
  description = "Folder inside the bucket where the lake starts (empty: the bucket's root)."

  validation {
    condition     = var.lake_prefix == "" || can(regex("^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$", var.lake_prefix))
    error_message = "lake_prefix must be empty or a path such as mta or lakes/mta, without a leading or trailing '/'."
  }
}

variable "noncurrent_version_retention_days" {
  type        = number
  default     = 30
  description = "Days an overwritten or deleted object's previous version is kept (so a bad re-land can be undone) before a lifecycle rule deletes it."

  validation {
    condition     = var.noncurrent_version_retention_days >= 1 && var.noncurrent_version_retention_days <= 3650 && floor(var.noncurrent_version_retention_days) == var.noncurrent_version_retention_days
    error_message = "noncurrent_version_retention_days must be a whole number of days from 1 to 3650."
  }
}

variable "force_destroy" {
  type        = bool
  default     = false
  description = "Let `terraform destroy` delete the bucket with every object and version in it. Keep false; set true (and apply) only just before destroying on purpose."
}

# --- The mart ------------------------------------------------------------------------------------

variable "warehouse_target" {
  type        = string
  default     = "duckdb_gcs"
  description = "The mart's dbt target (MTA_WAREHOUSE_TARGET). duckdb_gcs: a DuckDB file reading the lake from GCS, which needs nothing but the bucket grant. bigquery: also enables the BigQuery API and creates the mart's dataset, with roles/bigquery.jobUser on the project and roles/bigquery.dataEditor on that dataset for the pipeline (and needs an image with the BigQuery adapter)."

  validation {
    condition     = contains(["duckdb_gcs", "bigquery"], var.warehouse_target)
    error_message = "warehouse_target must be duckdb_gcs or bigquery."
  }
}

variable "bigquery_dataset" {
  type        = string
  default     = "mta_mart"
  description = "With warehouse_target = bigquery: the dataset of the mart (MTA_BIGQUERY_DATASET), created in var.region."

  validation {
    condition     = can(regex("^[A-Za-z_][A-Za-z0-9_]{0,1023}$", var.bigquery_dataset))
    error_message = "bigquery_dataset must be letters, digits and underscores, not starting with a digit."
  }
}

# --- The pipeline's identity ---------------------------------------------------------------------

variable "service_account_id" {
  type        = string
  default     = "mta-lake-pipeline"
  description = "Account ID of the pipeline's service account (the part of its e-mail before '@')."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.service_account_id))
    error_message = "service_account_id must be 6-30 lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "create_service_account_key" {
  type        = bool
  default     = false
  description = "Opt-in: create a JSON key for the service account, for a host outside Google Cloud. The key is stored in the Terraform state and returned by the sensitive output service_account_key. Prefer the VM's attached account or Workload Identity (no key at all)."
}

variable "workload_identity_members" {
  type        = list(string)
  default     = []
  description = "Principals allowed to act as the service account through Workload Identity, e.g. \"serviceAccount:PROJECT.svc.id.goog[NAMESPACE/KSA]\" for the Helm chart's Kubernetes service account on GKE, or a principal:// / principalSet:// identity of a Workload Identity Federation pool."

  validation {
    condition = alltrue([
      for member in var.workload_identity_members :
      can(regex("^serviceAccount:[a-z][a-z0-9-]+\\.svc\\.id\\.goog\\[[a-z0-9-]+/[a-z0-9.-]+\\]$", member)) || can(regex("^principal(Set)?://iam\\.googleapis\\.com/", member))
    ])
    error_message = "Each workload_identity_members entry must be serviceAccount:PROJECT.svc.id.goog[NAMESPACE/KSA] or a principal:// / principalSet:// Workload Identity Federation identity."
  }
}

# --- The optional VM running the Docker Compose stack -------------------------------------------

variable "create_vm" {
  type        = bool
  default     = false
  description = "Create a VM (with its own VPC, Cloud NAT for egress and an IAP-only SSH rule) that runs the Docker Compose stack as the pipeline's service account."
}

variable "machine_type" {
  type        = string
  default     = "e2-standard-2"
  description = "Machine type of the VM: 2 vCPU / 8 GB runs a full backfill (docs/DEPLOY.md, 'Compose or Helm?')."
}

variable "vm_image" {
  type        = string
  default     = "debian-cloud/debian-12"
  description = "Boot image of the VM (a Shielded VM image with apt: the start-up script installs Docker from Docker's Debian repository)."
}

variable "vm_disk_size_gb" {
  type        = number
  default     = 30
  description = "Boot disk size in GB: the OS, Docker images and the Postgres volume (Dagster's run history)."

  validation {
    condition     = var.vm_disk_size_gb >= 20 && var.vm_disk_size_gb <= 1024
    error_message = "vm_disk_size_gb must be between 20 and 1024."
  }
}

variable "vm_deletion_protection" {
  type        = bool
  default     = false
  description = "Refuse to delete the VM (also on `terraform destroy`) until this is set back to false."
}

variable "subnet_cidr" {
  type        = string
  default     = "10.20.0.0/24"
  description = "Private address range of the VM's subnet."

  validation {
    condition     = can(cidrhost(var.subnet_cidr, 0))
    error_message = "subnet_cidr must be an IPv4 CIDR range such as 10.20.0.0/24."
  }
}

variable "ssh_source_ranges" {
  type        = list(string)
  default     = ["35.235.240.0/20"]
  description = "Sources allowed to reach the VM on port 22. The default is Identity-Aware Proxy's TCP forwarding range only (`gcloud compute ssh --tunnel-through-iap`); the VM has no external IP. Add a VPN or bastion range only if you reach the VPC privately."

  validation {
    condition = alltrue([
      for range in var.ssh_source_ranges :
      can(cidrhost(range, 0)) && !contains(["0.0.0.0/0", "::/0"], range)
    ])
    error_message = "ssh_source_ranges must be CIDR ranges, and never the whole internet (0.0.0.0/0 or ::/0)."
  }
}

variable "operators" {
  type        = list(string)
  default     = []
  description = "People (\"user:alice@example.org\", \"group:data-eng@example.org\") granted, on this VM only, IAP tunnelling and OS Login with sudo, and the right to log in to a VM that runs as the service account. They also need compute.instances.get in the project (e.g. roles/compute.viewer); project owners need none of this."

  validation {
    condition     = alltrue([for member in var.operators : can(regex("^(user|group):[^@\\s]+@[^@\\s]+$", member))])
    error_message = "Each operators entry must be user:EMAIL or group:EMAIL."
  }
}

variable "repo_url" {
  type        = string
  default     = ""
  description = "HTTPS URL of this repository, cloned by the VM into /opt/mta-lake (docker-compose.yaml, .env.example, the build context). Required with create_vm."

  validation {
    condition     = var.repo_url == "" || can(regex("^https://[A-Za-z0-9.-]+(:[0-9]+)?/[A-Za-z0-9._~/-]+$", var.repo_url))
    error_message = "repo_url must be an https:// URL without credentials (no user:password@, no query string)."
  }
}

variable "repo_ref" {
  type        = string
  default     = "main"
  description = "Branch, tag or commit of repo_url the VM runs. Pin a tag or commit in production; the VM moves to it at every boot."

  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$", var.repo_ref))
    error_message = "repo_ref must be a branch, tag or commit name (letters, digits, '.', '_', '/', '-')."
  }
}

variable "image" {
  type        = string
  default     = ""
  description = "Image to run instead of building one on the VM, e.g. ghcr.io/OWNER/mta-lake:<git sha> (what CI publishes; it must be pullable without credentials). Empty: `docker compose up --build` from the checkout."

  validation {
    condition     = var.image == "" || can(regex("^[a-z0-9.-]+(:[0-9]+)?/[a-z0-9._/-]+(:[A-Za-z0-9._-]+|@sha256:[a-f0-9]{64})$", var.image))
    error_message = "image must be empty or a full image reference with a tag or digest, e.g. ghcr.io/owner/mta-lake:0123abc."
  }
}
