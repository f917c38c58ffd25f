"""Where the repository and the real MTA samples it carries are (mta_lake_tests/fixtures/mta,
MANIFEST.md says where each came from)."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
FIXTURES = REPO_ROOT / "mta_lake_tests" / "fixtures" / "mta"
RAW_SAMPLES = FIXTURES / "raw"
