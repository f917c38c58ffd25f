# What to put in .env (`terraform output -raw env`), and how to reach the VM.

output "mta_lake_url" {
  description = "MTA_LAKE_URL: where mta_lake lands weeks."
  value       = local.mta_lake_url
}

output "bucket_name" {
  description = "The lake bucket."
  value       = google_storage_bucket.lake.name
}

output "service_account_email" {
  description = "The pipeline's service account: object access on the lake bucket only."
  value       = google_service_account.pipeline.email
}

output "env" {
  description = "Lines for .env (docker-compose.yaml, .env.example) on a host that is not the VM Terraform created (that VM writes its own). Paste over the same names."
  value = join("\n", concat(
    [
      "MTA_LAKE_URL=${local.mta_lake_url}",
      "GOOGLE_CLOUD_PROJECT=${var.project_id}",
      "MTA_WAREHOUSE_TARGET=${var.warehouse_target}",
    ],
    var.warehouse_target == "bigquery" ? [
      "MTA_BIGQUERY_PROJECT=${var.project_id}",
      "MTA_BIGQUERY_DATASET=${var.bigquery_dataset}",
      "MTA_BIGQUERY_LOCATION=${var.region}",
    ] : [],
    var.create_service_account_key ? [
      "# The key: terraform output -raw service_account_key | base64 -d > gcp-key.json; move it to the path below, owned by the image's user (chown 10001:10001, chmod 0400).",
      "GCP_CREDENTIALS_HOST_PATH=/etc/mta-lake/gcp-key.json",
      "GOOGLE_APPLICATION_CREDENTIALS=/run/secrets/gcp-key.json",
      "MTA_GCS_SERVICE_ACCOUNT_JSON=",
      ] : [
      "# No key: the host's attached service account (${google_service_account.pipeline.email}) or Workload Identity.",
      "GCP_CREDENTIALS_HOST_PATH=/dev/null",
      "GOOGLE_APPLICATION_CREDENTIALS=",
      "MTA_GCS_SERVICE_ACCOUNT_JSON=",
    ],
    [""],
  ))
}

output "service_account_key" {
  description = "Only with create_service_account_key = true: the key file, base64-encoded JSON (`terraform output -raw service_account_key | base64 -d > gcp-key.json`). Null otherwise."
  value       = one(google_service_account_key.pipeline[*].private_key)
  sensitive   = true
}

output "vm_name" {
  description = "The VM running the Docker Compose stack (null without create_vm)."
  value       = one(google_compute_instance.vm[*].name)
}

output "vm_internal_ip" {
  description = "The VM's private address (it has no external one); null without create_vm."
  value       = one(google_compute_instance.vm[*].network_interface[0].network_ip)
}

output "ssh_command" {
  description = "SSH to the VM through Identity-Aware Proxy (null without create_vm)."
  value       = var.create_vm ? "gcloud compute ssh ${google_compute_instance.vm[0].name} --project ${var.project_id} --zone ${local.zone} --tunnel-through-iap" : null
}

output "ui_tunnel_command" {
  description = "Forward the Dagster UI to http://127.0.0.1:3000 on your machine, through IAP and SSH (null without create_vm)."
  value       = var.create_vm ? "gcloud compute ssh ${google_compute_instance.vm[0].name} --project ${var.project_id} --zone ${local.zone} --tunnel-through-iap -- -N -L 3000:127.0.0.1:3000" : null
}
