# Optional (create_vm = true): one VM running the Docker Compose stack (docker-compose.yaml) as the
# pipeline's service account, on a VPC of its own:
#   - no external IP; egress to the MTA site, Docker's and Python's package registries through
#     Cloud NAT; Google APIs through Private Google Access;
#   - the only ingress is SSH from Identity-Aware Proxy's range (ssh_source_ranges): no rule for
#     the Dagster UI at all. The UI listens on the VM's loopback (docker-compose.yaml) and is
#     reached through an IAP tunnel plus SSH port-forward (docs/SECURITY.md, docs/DEPLOY.md);
#   - OS Login, no project-wide SSH keys, no serial port, Shielded VM.

locals {
  vm_count = var.create_vm ? 1 : 0
}

resource "google_compute_network" "vm" {
  count = local.vm_count

  project                 = var.project_id
  name                    = "${var.name_prefix}-vpc"
  description             = "mta_lake: the VM's network (no default firewall rules)."
  auto_create_subnetworks = false
  routing_mode            = "REGIONAL"

  depends_on = [google_project_service.apis]
}

resource "google_compute_subnetwork" "vm" {
  count = local.vm_count

  project                  = var.project_id
  name                     = "${var.name_prefix}-subnet"
  region                   = var.region
  network                  = google_compute_network.vm[0].id
  ip_cidr_range            = var.subnet_cidr
  private_ip_google_access = true

  log_config {
    aggregation_interval = "INTERVAL_10_MIN"
    flow_sampling        = 0.5
    metadata             = "INCLUDE_ALL_METADATA"
  }
}

resource "google_compute_router" "vm" {
  count = local.vm_count

  project = var.project_id
  name    = "${var.name_prefix}-router"
  region  = var.region
  network = google_compute_network.vm[0].id
}

# Outbound only: the VM downloads the MTA's files, Docker Engine and the image's dependencies.
resource "google_compute_router_nat" "vm" {
  count = local.vm_count

  project                            = var.project_id
  name                               = "${var.name_prefix}-nat"
  region                             = var.region
  router                             = google_compute_router.vm[0].name
  nat_ip_allocate_option             = "AUTO_ONLY"
  source_subnetwork_ip_ranges_to_nat = "LIST_OF_SUBNETWORKS"

  subnetwork {
    name                    = google_compute_subnetwork.vm[0].id
    source_ip_ranges_to_nat = ["ALL_IP_RANGES"]
  }

  log_config {
    enable = true
    filter = "ERRORS_ONLY"
  }
}

# SSH from Identity-Aware Proxy's TCP forwarding range only (ssh_source_ranges cannot hold
# 0.0.0.0/0), and only to the VM running as the pipeline's account. Nothing else comes in.
resource "google_compute_firewall" "ssh_from_iap" {
  count = local.vm_count

  project     = var.project_id
  name        = "${var.name_prefix}-allow-ssh-from-iap"
  description = "SSH to the mta_lake VM through Identity-Aware Proxy only."
  network     = google_compute_network.vm[0].id
  direction   = "INGRESS"
  priority    = 1000

  source_ranges           = var.ssh_source_ranges
  target_service_accounts = [google_service_account.pipeline.email]

  allow {
    protocol = "tcp"
    ports    = ["22"]
  }

  log_config {
    metadata = "INCLUDE_ALL_METADATA"
  }
}

resource "google_compute_instance" "vm" {
  # Google-managed encryption at rest. A customer-supplied key (CSEK) must be handed to every
  # start of the VM, which an unattended restart of the stack cannot do.
  #checkov:skip=CKV_GCP_38:CSEK must be supplied at every VM start, incompatible with unattended restarts; disks use Google-managed encryption at rest

  count = local.vm_count

  project                   = var.project_id
  name                      = "${var.name_prefix}-vm"
  zone                      = local.zone
  machine_type              = var.machine_type
  description               = "mta_lake: the Docker Compose stack (Postgres, code server, webserver, daemon, a container per run)."
  labels                    = local.labels
  allow_stopping_for_update = true
  deletion_protection       = var.vm_deletion_protection
  can_ip_forward            = false

  boot_disk {
    auto_delete = true

    initialize_params {
      image  = var.vm_image
      size   = var.vm_disk_size_gb
      type   = "pd-balanced"
      labels = local.labels
    }
  }

  # No access_config block: no external IP. Egress goes through the Cloud NAT above.
  network_interface {
    subnetwork = google_compute_subnetwork.vm[0].id
  }

  # The pipeline's account, whose only role is object access on the lake bucket: the containers
  # get its credentials from the metadata server (Application Default Credentials), no key file.
  # The cloud-platform scope lets IAM alone decide what the account may do.
  service_account {
    email  = google_service_account.pipeline.email
    scopes = ["cloud-platform"]
  }

  shielded_instance_config {
    enable_secure_boot          = true
    enable_vtpm                 = true
    enable_integrity_monitoring = true
  }

  # In `metadata`, not `metadata_startup_script`: a changed script is updated in place instead of
  # replacing the VM (and its Postgres volume). It runs at every boot.
  metadata = {
    enable-oslogin         = "TRUE"
    block-project-ssh-keys = "true"
    serial-port-enable     = "false"
    startup-script = templatefile("${path.module}/startup.sh.tftpl", {
      repo_url     = var.repo_url
      repo_ref     = var.repo_ref
      image        = var.image
      mta_lake_url     = local.mta_lake_url
      project_id       = var.project_id
      warehouse_target = var.warehouse_target
    })
  }

  lifecycle {
    # A new Debian image in the family must not replace the VM; the VM patches itself
    # (unattended-upgrades), and `terraform apply -replace` rebuilds it on purpose.
    ignore_changes = [boot_disk[0].initialize_params[0].image]

    precondition {
      condition     = var.warehouse_target != "bigquery" || var.image != ""
      error_message = "warehouse_target = bigquery needs image: one with the BigQuery adapter (the image this repository builds has none)."
    }

    precondition {
      condition     = var.repo_url != ""
      error_message = "create_vm needs repo_url: the HTTPS URL of this repository, which the VM clones to run docker-compose.yaml."
    }
  }

  depends_on = [
    google_project_service.apis,
    google_compute_router_nat.vm,
    google_storage_bucket_iam_member.pipeline_objects,
  ]
}

# --- Who may reach the VM (operators; project owners already may) -------------------------------

resource "google_iap_tunnel_instance_iam_member" "operators" {
  for_each = var.create_vm ? toset(var.operators) : toset([])

  project  = var.project_id
  zone     = local.zone
  instance = google_compute_instance.vm[0].name
  role     = "roles/iap.tunnelResourceAccessor"
  member   = each.value
}

# OS Login with sudo (docker commands), on this VM only.
resource "google_compute_instance_iam_member" "operators" {
  for_each = var.create_vm ? toset(var.operators) : toset([])

  project       = var.project_id
  zone          = local.zone
  instance_name = google_compute_instance.vm[0].name
  role          = "roles/compute.osAdminLogin"
  member        = each.value
}

# OS Login requires it to log in to a VM that runs as a service account.
resource "google_service_account_iam_member" "operators" {
  for_each = var.create_vm ? toset(var.operators) : toset([])

  service_account_id = google_service_account.pipeline.name
  role               = "roles/iam.serviceAccountUser"
  member             = each.value
}
