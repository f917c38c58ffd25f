"""deploy/terraform, read by an independent HCL parser (python-hcl2), holds what the issue promises.

The lake bucket: uniform bucket-level access, public access prevention enforced, versioning, a
lifecycle rule that deletes non-current versions after a number of days set by a variable,
labels, no ACL resources. The pipeline's service account: its only grants are object-level roles
on the lake bucket; no key unless an opt-in variable asks for one, and that output is sensitive.
BigQuery (the API, the mart's dataset, jobUser on the project, dataEditor on that dataset only)
exactly when the warehouse_target variable chooses it, never by default.
The VM: off by default, no external IP, no ingress from the whole internet, the Dagster UI never
opened, Shielded VM and OS Login. Terraform cannot be downloaded on the build machines, so
`terraform validate/plan` are not run here; `.ci/checkov` runs checkov's policies over the module.

Each rule is a function returning its problems, so the negative tests can show that each one
catches a copy of the module broken in a temporary folder.
"""

import ipaddress
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2
import pytest
from hcl2 import SerializationOptions

from mta_lake_harness.paths import REPO_ROOT

REPO = REPO_ROOT
MODULE = REPO / "deploy" / "terraform"

# Roles that give access to a bucket's objects and nothing more.
OBJECT_ROLES = {
    "roles/storage.objectViewer",
    "roles/storage.objectCreator",
    "roles/storage.objectUser",
    "roles/storage.objectAdmin",
}
# Roles that may be granted ON the pipeline's service account (to others), never tokens or keys.
SERVICE_ACCOUNT_ROLES = {"roles/iam.workloadIdentityUser", "roles/iam.serviceAccountUser"}
# Never granted by this module, to anyone.
BROAD_ROLES = {
    "roles/owner",
    "roles/editor",
    "roles/viewer",
    "roles/storage.admin",
    "roles/iam.serviceAccountTokenCreator",
    "roles/iam.serviceAccountKeyAdmin",
    "roles/iam.serviceAccountAdmin",
    "roles/iam.securityAdmin",
    "roles/resourcemanager.projectIamAdmin",
}
ACL_RESOURCES = {
    "google_storage_bucket_acl",
    "google_storage_default_object_acl",
    "google_storage_object_acl",
    "google_storage_bucket_access_control",
    "google_storage_default_object_access_control",
    "google_storage_object_access_control",
}
IAP_RANGE = ipaddress.ip_network("35.235.240.0/20")
WHOLE_INTERNET = {"0.0.0.0/0", "::/0"}
UI_PORT = "3000"

PARSE_OPTIONS = SerializationOptions(strip_string_quotes=True, explicit_blocks=False, with_comments=False)
REFERENCE = re.compile(r"^\$\{(var|local)\.([A-Za-z0-9_]+)\}$")


# -- reading the module ------------------------------------------------------------------------


@dataclass
class Module:
    """The blocks of every .tf file of one folder, by kind and name."""

    folder: Path
    resources: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    data: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    variables: dict[str, dict[str, Any]] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    locals: dict[str, Any] = field(default_factory=dict)
    modules: dict[str, dict[str, Any]] = field(default_factory=dict)
    terraform: list[dict[str, Any]] = field(default_factory=list)

    def of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        return {name: body for (type_, name), body in self.resources.items() if type_ == kind}

    def resolve(self, value: Any, depth: int = 0) -> Any:
        """``${var.X}`` -> X's default, ``${local.X}`` -> X's expression, resolved again."""
        match = REFERENCE.match(value) if isinstance(value, str) else None
        if not match or depth > 10:
            return value
        kind, name = match.groups()
        if kind == "var":
            if name not in self.variables:
                raise AssertionError(f"{value} names no variable")
            return self.resolve(self.variables[name].get("default"), depth + 1)
        if name not in self.locals:
            raise AssertionError(f"{value} names no local value")
        return self.resolve(self.locals[name], depth + 1)


def load_module(folder: Path = MODULE) -> Module:
    module = Module(folder)
    files = sorted(folder.glob("*.tf"))
    assert files, f"no .tf files in {folder}"
    for path in files:
        with path.open() as handle:
            parsed = hcl2.load(handle, serialization_options=PARSE_OPTIONS)
        for entry in parsed.get("resource", []):
            for kind, named in entry.items():
                for name, body in named.items():
                    module.resources[(kind, name)] = body
        for entry in parsed.get("data", []):
            for kind, named in entry.items():
                for name, body in named.items():
                    module.data[(kind, name)] = body
        for entry in parsed.get("variable", []):
            module.variables.update(entry)
        for entry in parsed.get("output", []):
            module.outputs.update(entry)
        for entry in parsed.get("locals", []):
            module.locals.update(entry)
        for entry in parsed.get("module", []):
            module.modules.update(entry)
        module.terraform.extend(parsed.get("terraform", []))
    return module


def block(body: dict[str, Any], name: str) -> dict[str, Any] | None:
    """The one nested block ``name`` of a resource (python-hcl2 gives blocks as lists)."""
    blocks = body.get(name) or []
    assert len(blocks) <= 1, f"more than one {name} block"
    return blocks[0] if blocks else None


def references(value: Any) -> str:
    """Every string inside a value, joined: what a reference search runs over."""
    if isinstance(value, dict):
        return " ".join(references(item) for item in value.values())
    if isinstance(value, list):
        return " ".join(references(item) for item in value)
    return str(value)


def gated_off_by_default(module: Module, body: dict[str, Any]) -> str | None:
    """The bool variable a resource's ``count``/``for_each`` hangs on, if it is off by default."""
    gate = module.resolve(body.get("count", body.get("for_each", "")))
    match = re.match(r"^\$\{var\.([A-Za-z0-9_]+) \? (1|[^:]+) : (0|toset\(\[\]\)|\[\]|\{\})\}$", str(gate))
    if not match:
        return None
    variable = module.variables.get(match[1], {})
    if variable.get("type") == "bool" and variable.get("default") is False:
        return match[1]
    return None


# -- the rules ---------------------------------------------------------------------------------


def lake_bucket(module: Module) -> tuple[str, dict[str, Any]]:
    buckets = module.of_type("google_storage_bucket")
    assert len(buckets) == 1, f"expected one google_storage_bucket (the lake), found {sorted(buckets)}"
    return next(iter(buckets.items()))


def bucket_problems(module: Module) -> list[str]:
    name, bucket = lake_bucket(module)
    problems = []
    if bucket.get("uniform_bucket_level_access") is not True:
        problems.append("uniform_bucket_level_access is not true")
    if bucket.get("public_access_prevention") != "enforced":
        problems.append(
            f"public_access_prevention is {bucket.get('public_access_prevention')!r}, not 'enforced'"
        )
    versioning = block(bucket, "versioning")
    if not versioning or versioning.get("enabled") is not True:
        problems.append("versioning is not enabled")
    labels = module.resolve(bucket.get("labels"))
    if not labels or labels == "{}":
        problems.append(f"the bucket has no labels ({bucket.get('labels')!r})")
    if module.resolve(bucket.get("force_destroy", False)) is not False:
        problems.append("force_destroy is not false by default: destroy would delete the lake's objects")
    return [f"google_storage_bucket.{name}: {problem}" for problem in problems]


def lifecycle_problems(module: Module) -> list[str]:
    name, bucket = lake_bucket(module)
    problems = []
    noncurrent_rules = 0
    for rule in bucket.get("lifecycle_rule", []):
        action, condition = block(rule, "action") or {}, block(rule, "condition") or {}
        if action.get("type") != "Delete":
            continue
        if condition.get("with_state") != "ARCHIVED":
            problems.append(
                f"a Delete rule may delete live objects (with_state {condition.get('with_state')!r})"
            )
            continue
        days = condition.get("days_since_noncurrent_time")
        match = REFERENCE.match(str(days))
        if not match or match[1] != "var":
            problems.append(f"days_since_noncurrent_time is {days!r}, not a variable")
            continue
        variable = module.variables[match[2]]
        default = variable.get("default")
        if variable.get("type") != "number" or not isinstance(default, int) or default < 1:
            problems.append(f"var.{match[2]} is not a number of days >= 1 by default ({default!r})")
            continue
        noncurrent_rules += 1
    if not noncurrent_rules:
        problems.append("no lifecycle rule deletes non-current versions after var.<days>")
    return [f"google_storage_bucket.{name}: {problem}" for problem in problems]


def acl_problems(module: Module) -> list[str]:
    found = sorted(f"{kind}.{name}" for kind, name in module.resources if kind in ACL_RESOURCES)
    return [f"{resource}: ACLs instead of uniform bucket-level access" for resource in found]


def iam_grants(module: Module) -> Iterator[tuple[str, str, dict[str, Any], str, str]]:
    """(resource type, name, body, role, member) of every IAM grant, a member at a time."""
    for (kind, name), body in module.resources.items():
        if "_iam_" not in kind or "role" not in body:
            continue
        members = body.get("members", [body.get("member")])
        for member in members if isinstance(members, list) else [members]:
            yield kind, name, body, str(body["role"]), str(member)


def pipeline_accounts(module: Module) -> set[str]:
    accounts = set(module.of_type("google_service_account"))
    assert accounts, "no google_service_account: the pipeline needs its own"
    return accounts


def names_account(value: str, accounts: set[str]) -> bool:
    return any(
        re.search(
            rf"\bgoogle_service_account\.{re.escape(account)}\.(email|member|name|id|unique_id)\b", value
        )
        for account in accounts
    )


def grant_problems(module: Module) -> list[str]:
    accounts = pipeline_accounts(module)
    (bucket_name, _) = lake_bucket(module)
    problems = []
    bucket_grants = 0
    for name in module.modules:
        problems.append(f"module.{name}: a module's grants cannot be checked here")
    for kind, _name in module.data:
        if kind == "google_iam_policy":
            problems.append("data.google_iam_policy: authoritative IAM policies are not allowed")
    for kind, name, body, role, member in iam_grants(module):
        where = f"{kind}.{name} ({role} to {member})"
        if kind.endswith("_iam_policy"):
            problems.append(f"{where}: authoritative IAM policy")
        if role in BROAD_ROLES:
            problems.append(f"{where}: a broad role")
        if role.startswith("roles/bigquery."):
            continue  # the mart's BigQuery grants: bigquery_problems

        if re.match(r"google_(project|folder|organization)_iam_", kind) and (
            role.startswith("roles/storage.") or names_account(member, accounts)
        ):
            problems.append(f"{where}: a project-wide grant")
        if kind.startswith("google_service_account_iam_") and role not in SERVICE_ACCOUNT_ROLES:
            problems.append(f"{where}: on the service account, only {sorted(SERVICE_ACCOUNT_ROLES)}")
        if not names_account(member, accounts):
            continue
        if kind not in ("google_storage_bucket_iam_member", "google_storage_bucket_iam_binding"):
            problems.append(f"{where}: the pipeline's account may only be granted roles on the lake bucket")
        elif body.get("bucket") != f"${{google_storage_bucket.{bucket_name}.name}}":
            problems.append(f"{where}: on {body.get('bucket')!r}, not the lake bucket")
        elif role not in OBJECT_ROLES:
            problems.append(f"{where}: not an object-level role ({sorted(OBJECT_ROLES)})")
        else:
            bucket_grants += 1
    if not bucket_grants:
        problems.append("the pipeline's account has no object role on the lake bucket")
    return problems


def key_problems(module: Module) -> list[str]:
    problems = []
    keys = module.of_type("google_service_account_key")
    for name, body in keys.items():
        if not gated_off_by_default(module, body):
            problems.append(
                f"google_service_account_key.{name}: not gated by an opt-in bool variable "
                f"(count = var.X ? 1 : 0, default false); count is {body.get('count')!r}"
            )
    for name, output in module.outputs.items():
        if (
            "google_service_account_key." in references(output.get("value"))
            and output.get("sensitive") is not True
        ):
            problems.append(f"output.{name}: exposes the key without sensitive = true")
    return problems


def firewall_problems(module: Module) -> list[str]:
    problems = []
    for name, rule in module.of_type("google_compute_firewall").items():
        if rule.get("direction", "INGRESS") != "INGRESS":
            continue
        where = f"google_compute_firewall.{name}"
        sources = module.resolve(rule.get("source_ranges", []))
        if not isinstance(sources, list):
            problems.append(f"{where}: source_ranges {sources!r} cannot be read")
            continue
        ports = [str(port) for allow in rule.get("allow", []) for port in allow.get("ports", ["all"])]
        if WHOLE_INTERNET & set(sources):
            problems.append(f"{where}: open to the whole internet on {ports} by default")
        if UI_PORT in ports or "all" in ports:
            problems.append(f"{where}: opens the Dagster UI's port (reach it through a tunnel)")
        if "22" in ports and not all(ipaddress.ip_network(source).subnet_of(IAP_RANGE) for source in sources):
            problems.append(f"{where}: SSH from {sources} by default, not only IAP's {IAP_RANGE}")
    return problems


def vm_problems(module: Module) -> list[str]:
    accounts = pipeline_accounts(module)
    problems = []
    for name, vm in module.of_type("google_compute_instance").items():
        where = f"google_compute_instance.{name}"
        if not gated_off_by_default(module, vm):
            problems.append(f"{where}: not optional (count = var.X ? 1 : 0, default false)")
        for interface in vm.get("network_interface", []):
            if "access_config" in interface or "dynamic" in interface:
                problems.append(f"{where}: an external IP (access_config)")
        shielded = block(vm, "shielded_instance_config") or {}
        for setting in ("enable_secure_boot", "enable_vtpm", "enable_integrity_monitoring"):
            if shielded.get(setting) is not True:
                problems.append(f"{where}: Shielded VM {setting} is not true")
        metadata = {key: str(value).lower() for key, value in (vm.get("metadata") or {}).items()}
        if metadata.get("enable-oslogin") != "true":
            problems.append(f"{where}: OS Login is not enabled")
        if metadata.get("block-project-ssh-keys") != "true":
            problems.append(f"{where}: project-wide SSH keys are not blocked")
        if metadata.get("serial-port-enable", "false") != "false":
            problems.append(f"{where}: the serial port is enabled")
        account = block(vm, "service_account") or {}
        if not names_account(str(account.get("email")), accounts):
            problems.append(f"{where}: does not run as the pipeline's service account")
    return problems


def hygiene_problems(module: Module) -> list[str]:
    problems = []
    for name, variable in module.variables.items():
        if "type" not in variable or not variable.get("description"):
            problems.append(f"variable {name}: no type or no description")
    for name, output in module.outputs.items():
        if not output.get("description"):
            problems.append(f"output {name}: no description")
    for name in ("mta_lake_url", "service_account_email", "env"):
        if name not in module.outputs:
            problems.append(f"output {name} is missing")
    providers = [
        provider
        for settings in module.terraform
        for required in settings.get("required_providers", [])
        for provider in required.values()
    ]
    google = [provider for provider in providers if provider.get("source") == "hashicorp/google"]
    if not google or not re.search(r"~>|<", str(google[0].get("version", ""))):
        problems.append("the google provider's version has no upper bound (~> or <) in required_providers")
    return problems


BIGQUERY_GATE = re.compile(r'^\$\{var\.warehouse_target == "bigquery" \? 1 : 0\}$')
BIGQUERY_GRANTS = {
    ("google_project_iam_member", "roles/bigquery.jobUser"),  # run query jobs: no data access
    ("google_bigquery_dataset_iam_member", "roles/bigquery.dataEditor"),  # the mart's dataset only
}


def bigquery_problems(module: Module) -> list[str]:
    """BigQuery's API, dataset and grants exist exactly when var.warehouse_target is "bigquery"."""
    variable = module.variables.get("warehouse_target")
    if variable is None:
        return ["no variable warehouse_target: BigQuery's grants cannot follow the mart's target"]
    problems = []
    if variable.get("default") == "bigquery":
        problems.append("var.warehouse_target chooses BigQuery by default")
    accounts = pipeline_accounts(module)
    granted = set()
    for kind, name, body, role, member in iam_grants(module):
        if not role.startswith("roles/bigquery."):
            continue
        where = f"{kind}.{name} ({role} to {member})"
        if (kind, role) not in BIGQUERY_GRANTS or not names_account(member, accounts):
            problems.append(f"{where}: not one of {sorted(BIGQUERY_GRANTS)} to the pipeline")
        if not BIGQUERY_GATE.match(str(body.get("count", ""))):
            problems.append(f"{where}: granted whatever the mart's target ({body.get('count')!r})")
        if kind == "google_bigquery_dataset_iam_member" and not re.match(
            r"^\$\{google_bigquery_dataset\.\w+\[0\]\.dataset_id\}$", str(body.get("dataset_id"))
        ):
            problems.append(f"{where}: not on the mart's dataset")
        granted.add((kind, role))
    for (kind, name), body in module.resources.items():
        if kind.startswith("google_bigquery_") and not BIGQUERY_GATE.match(str(body.get("count", ""))):
            problems.append(f"{kind}.{name}: created whatever the mart's target")
    if not module.of_type("google_bigquery_dataset"):
        problems.append("no google_bigquery_dataset for the mart when BigQuery is chosen")
    missing = BIGQUERY_GRANTS - granted
    if missing:
        problems.append(f"BigQuery chosen, the pipeline would lack {sorted(missing)}")
    apis = str(module.locals.get("apis", ""))
    if 'var.warehouse_target == "bigquery" ? ["bigquery.googleapis.com"] : []' not in apis:
        problems.append("the BigQuery API is not enabled exactly when BigQuery is chosen")
    if apis.count("bigquery") != 2:  # the condition and the API, once
        problems.append("the BigQuery API is named outside its condition")
    return problems


RULES: dict[str, Callable[[Module], list[str]]] = {
    "bucket": bucket_problems,
    "lifecycle": lifecycle_problems,
    "acl": acl_problems,
    "grants": grant_problems,
    "key": key_problems,
    "firewall": firewall_problems,
    "vm": vm_problems,
    "hygiene": hygiene_problems,
    "bigquery": bigquery_problems,
}


# -- the module as it is -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def module() -> Module:
    return load_module()


@pytest.mark.parametrize("rule", RULES)
def test_the_module_keeps_the_rule(module: Module, rule: str) -> None:
    assert RULES[rule](module) == []


def test_the_module_has_what_the_rules_look_at(module: Module) -> None:
    """The rules above pass vacuously on an empty module: the parts they check are there."""
    assert module.of_type("google_storage_bucket_iam_member")
    assert module.of_type("google_service_account_key")
    assert module.of_type("google_compute_firewall")
    assert module.of_type("google_compute_instance")
    assert module.outputs["service_account_key"]["sensitive"] is True
    assert module.variables["create_service_account_key"]["default"] is False
    assert module.variables["create_vm"]["default"] is False


def test_every_skipped_checkov_check_has_a_reason() -> None:
    skips = [
        (path.name, match)
        for path in sorted(MODULE.glob("*.tf"))
        for match in re.finditer(r"checkov:skip=([A-Z0-9_]+)(?::([^\n]*))?", path.read_text())
    ]
    for name, match in skips:
        assert (match[2] or "").strip(), f"{name}: {match[1]} is skipped without a reason"


def test_the_startup_script_template_uses_only_what_terraform_passes() -> None:
    """templatefile() fails at plan time on an unknown name; bash must parse what it renders."""
    template = (MODULE / "startup.sh.tftpl").read_text()
    (call,) = re.findall(
        r'templatefile\("\$\{path\.module\}/startup\.sh\.tftpl", \{(.*?)\}\)', module_text(), re.S
    )
    passed = set(re.findall(r"([a-z_]+)\s*=", call))
    used = set(re.findall(r"(?<!\$)\$\{([^}]*)\}", template))
    assert used == passed, f"the template uses {sorted(used)}, Terraform passes {sorted(passed)}"
    assert "%{" not in template.replace("%%{", "")
    rendered = re.sub(r"(?<!\$)\$\{([a-z_]+)\}", "value", template).replace("$${", "${")
    subprocess.run(["bash", "-n"], input=rendered, text=True, check=True)


def module_text() -> str:
    return "\n".join(path.read_text() for path in sorted(MODULE.glob("*.tf")))


# -- each rule catches a broken copy -----------------------------------------------------------


def mutated(tmp_path: Path, file: str, old: str, new: str) -> Module:
    copy = tmp_path / "terraform"
    shutil.copytree(MODULE, copy)
    path = copy / file
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} is not in {file} exactly once"
    path.write_text(text.replace(old, new))
    return load_module(copy)


BUCKET_IAM = """resource "google_storage_bucket_iam_member" "pipeline_objects" {"""
PROJECT_GRANT = """resource "google_project_iam_member" "pipeline_storage" {
  project = var.project_id
  role    = "roles/storage.objectAdmin"
  member  = google_service_account.pipeline.member
}

"""
MUTATIONS = [
    ("bucket", "main.tf", "uniform_bucket_level_access = true", "uniform_bucket_level_access = false"),
    (
        "bucket",
        "main.tf",
        'public_access_prevention    = "enforced"',
        'public_access_prevention    = "inherited"',
    ),
    ("bucket", "main.tf", "versioning {\n    enabled = true", "versioning {\n    enabled = false"),
    ("bucket", "main.tf", "labels        = local.labels\n  force", "force"),
    (
        "bucket",
        "variables.tf",
        'variable "force_destroy" {\n  type        = bool\n  default     = false',
        'variable "force_destroy" {\n  type        = bool\n  default     = true',
    ),
    (
        "lifecycle",
        "main.tf",
        "days_since_noncurrent_time = var.noncurrent_version_retention_days",
        "days_since_noncurrent_time = 30",
    ),
    ("lifecycle", "main.tf", 'with_state                 = "ARCHIVED"', 'with_state                 = "ANY"'),
    (
        "lifecycle",
        "variables.tf",
        'retention_days" {\n  type        = number\n  default     = 30',
        'retention_days" {\n  type        = number\n  default     = 0',
    ),
    (
        "acl",
        "main.tf",
        BUCKET_IAM,
        'resource "google_storage_default_object_acl" "lake" {\n  bucket = google_storage_bucket.lake.name\n}\n\n'
        + BUCKET_IAM,
    ),
    ("grants", "main.tf", 'role   = "roles/storage.objectUser"', 'role   = "roles/storage.admin"'),
    ("grants", "main.tf", 'role   = "roles/storage.objectUser"', 'role   = "roles/editor"'),
    (
        "grants",
        "main.tf",
        "bucket = google_storage_bucket.lake.name\n  role",
        'bucket = "some-other-bucket"\n  role',
    ),
    ("grants", "main.tf", BUCKET_IAM, PROJECT_GRANT + BUCKET_IAM),
    ("grants", "main.tf", '"roles/iam.workloadIdentityUser"', '"roles/iam.serviceAccountTokenCreator"'),
    ("key", "main.tf", "count = var.create_service_account_key ? 1 : 0\n", ""),
    (
        "key",
        "variables.tf",
        'variable "create_service_account_key" {\n  type        = bool\n  default     = false',
        'variable "create_service_account_key" {\n  type        = bool\n  default     = true',
    ),
    ("key", "outputs.tf", "private_key)\n  sensitive   = true", "private_key)\n  sensitive   = false"),
    ("firewall", "variables.tf", 'default     = ["35.235.240.0/20"]', 'default     = ["0.0.0.0/0"]'),
    ("firewall", "variables.tf", 'default     = ["35.235.240.0/20"]', 'default     = ["203.0.113.0/24"]'),
    ("firewall", "vm.tf", 'ports    = ["22"]', 'ports    = ["22", "3000"]'),
    (
        "vm",
        "vm.tf",
        "subnetwork = google_compute_subnetwork.vm[0].id\n  }",
        "subnetwork = google_compute_subnetwork.vm[0].id\n    access_config {}\n  }",
    ),
    ("vm", "vm.tf", "enable_secure_boot          = true", "enable_secure_boot          = false"),
    ("vm", "vm.tf", 'enable-oslogin         = "TRUE"', 'enable-oslogin         = "FALSE"'),
    ("vm", "vm.tf", 'serial-port-enable     = "false"', 'serial-port-enable     = "true"'),
    (
        "vm",
        "variables.tf",
        'variable "create_vm" {\n  type        = bool\n  default     = false',
        'variable "create_vm" {\n  type        = bool\n  default     = true',
    ),
    ("hygiene", "versions.tf", 'version = "~> 7.0"', 'version = ">= 7.0"'),
    (
        "bigquery",
        "variables.tf",
        'variable "warehouse_target" {\n  type        = string\n  default     = "duckdb_gcs"',
        'variable "warehouse_target" {\n  type        = string\n  default     = "bigquery"',
    ),
    (
        "bigquery",
        "main.tf",
        'count = var.warehouse_target == "bigquery" ? 1 : 0\n\n  project = var.project_id\n  role    = "roles/bigquery.jobUser"',
        'project = var.project_id\n  role    = "roles/bigquery.jobUser"',
    ),
    (
        "bigquery",
        "main.tf",
        'role       = "roles/bigquery.dataEditor"',
        'role       = "roles/bigquery.admin"',
    ),
    (
        "bigquery",
        "main.tf",
        'var.warehouse_target == "bigquery" ? ["bigquery.googleapis.com"] : [],',
        '["bigquery.googleapis.com"],',
    ),
    ("hygiene", "outputs.tf", 'output "mta_lake_url" {', 'output "lake_url" {'),
]


@pytest.mark.parametrize(
    ("rule", "file", "old", "new"), MUTATIONS, ids=[f"{m[0]}-{i}" for i, m in enumerate(MUTATIONS)]
)
def test_each_rule_catches_a_broken_copy_of_the_module(
    tmp_path: Path, rule: str, file: str, old: str, new: str
) -> None:
    broken = mutated(tmp_path, file, old, new)
    problems = RULES[rule](broken)
    assert problems, f"rule {rule!r} did not notice: {old!r} -> {new!r}"
    # Only the broken rule speaks: the others still pass on the copy.
    assert [name for name, check in RULES.items() if name != rule and check(broken)] == []
