# Terraform and the Google provider this module was written against. The provider is held to the
# 7.x series (`terraform init` picks the newest 7.x and records it in .terraform.lock.hcl: commit
# that file); raise the bound deliberately, after reading the provider's upgrade guide.
terraform {
  required_version = ">= 1.5.0"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 7.0"
    }
  }
}

provider "google" {
  project = var.project_id
  region  = var.region
}
