"""Which station a booth is: the name, lines and division for old-format rows, and one join key.

Old-format files name no station: a reading only has its booth (C/A) and remote (UNIT). Three
tables (``reference/``, with ``PROVENANCE.md``) map booths to stations:

- ``enriched``: hshore29's cleaned table (955 booths, complex ids, prior remotes). Its ``station``
  names are the names the new-format files print (99.9% of the 2024 readings; every booth it knows),
  and it holds every (booth, remote) pair of the two MTA editions below.
- ``2015`` and ``2010``: the MTA's own Remote-Booth-Station editions. Their names are older
  spellings (``FULTON STREET``, ``1 AVE``): they match the new-format files for only 42% and 45% of
  the 2024 readings.

A booth's station comes from the first of: the enriched table (the names the files use: "the file
wins"), the dated editions nearest the week first, the enriched table by remote alone (when all its
booths of that remote share one name), else none (``unmapped``). New-format rows keep the name their
file prints (``file``); only a row whose STATION is empty falls back to the same lookup.

``station_key`` joins a station across years and formats: ``complex:<id>``, the MTA station-complex
id of the booth (by booth and remote, a prior remote included), else of its remote (a remote lies in
one complex), else ``remote:<UNIT>``. It depends only on C/A and UNIT, which both formats carry, so
a booth has the same key before and after 2014-10-18, whatever the name was then.
"""

import csv
import hashlib
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

REFERENCE_DIR = Path(__file__).parent / "reference"
ENRICHED_FILE = "remote_booth_station_clean.csv"
EDITION_FILES = {"2015": "Remote-Booth-Station.csv", "2010": "Remote-Booth-Station_2010.csv"}

SOURCE_FILE = "file"
SOURCE_ENRICHED = "mapping_enriched"
SOURCE_ENRICHED_BY_UNIT = "mapping_enriched_by_unit"
SOURCE_UNMAPPED = "unmapped"


def edition_source(edition: str) -> str:
    return f"mapping_{edition}"


STATION_SOURCES = (
    SOURCE_FILE,
    SOURCE_ENRICHED,
    *(edition_source(edition) for edition in EDITION_FILES),
    SOURCE_ENRICHED_BY_UNIT,
    SOURCE_UNMAPPED,
)
"""Every value of ``station_source``, in lookup order."""

EDITION_DATES = {"2015": date(2015, 1, 1), "2010": date(2010, 1, 1)}
"""When each dated edition was current (as its file name says): "nearest the week" is measured
from these."""

Booth = tuple[str, str]
"""(C/A, UNIT)."""


@dataclass(frozen=True)
class StationNames:
    station: str | None
    line_names: str | None
    division: str | None
    source: str
    """A value of ``STATION_SOURCES``."""


@dataclass(frozen=True)
class StationKey:
    key: str
    """``complex:<id>`` or ``remote:<UNIT>``."""
    complex_name: str | None
    """The complex's name in the enriched table (its ``complex_name``, else its ``station_name``)."""


UNMAPPED = StationNames(None, None, None, SOURCE_UNMAPPED)


class StationMapping:
    """The booth-to-station tables, indexed for lookups by (C/A, UNIT)."""

    def __init__(
        self,
        enriched: list[dict[str, str]],
        editions: dict[str, dict[Booth, StationNames]],
        fingerprint: str,
    ) -> None:
        self.editions = editions
        self.fingerprint = fingerprint
        self._by_booth: dict[Booth, StationNames] = {}
        self._complex_by_booth: dict[Booth, str] = {}
        complexes_by_remote: dict[str, set[str]] = defaultdict(set)
        booths_by_remote: dict[str, list[dict[str, str]]] = defaultdict(list)
        complex_names: dict[str, Counter[str]] = defaultdict(Counter)
        for row in enriched:
            names = StationNames(
                _text(row["station"]), _text(row["line_name"]), _text(row["division"]), SOURCE_ENRICHED
            )
            remotes = [row["remote"], *(r.strip() for r in row["prior_remotes"].split(",") if r.strip())]
            for remote in remotes:
                self._by_booth.setdefault((row["booth"], remote), names)
                self._complex_by_booth.setdefault((row["booth"], remote), row["complex_id"])
            complexes_by_remote[row["remote"]].add(row["complex_id"])
            booths_by_remote[row["remote"]].append(row)
            complex_names[row["complex_id"]][
                _text(row["complex_name"]) or _text(row["station_name"]) or ""
            ] += 1
        # Ties are broken by the name itself, so the choice never depends on the table's row order.
        self._complex_name = {
            complex_id: min(counts, key=lambda name: (-counts[name], name)) or None
            for complex_id, counts in complex_names.items()
        }
        self._complex_by_remote = {
            remote: next(iter(ids)) for remote, ids in complexes_by_remote.items() if len(ids) == 1
        }
        self._by_remote: dict[str, StationNames] = {}
        for remote, rows in booths_by_remote.items():
            stations = {row["station"] for row in rows}
            if len(stations) == 1:
                self._by_remote[remote] = StationNames(
                    _text(rows[0]["station"]),
                    _most_common(_text(row["line_name"]) for row in rows),
                    _most_common(_text(row["division"]) for row in rows),
                    SOURCE_ENRICHED_BY_UNIT,
                )

    def editions_for(self, week: date) -> list[str]:
        """The dated editions, nearest ``week`` first (the earlier edition on a tie)."""
        return sorted(self.editions, key=lambda name: (abs(EDITION_DATES[name] - week), EDITION_DATES[name]))

    def names(self, control_area: str, unit: str, week: date) -> StationNames:
        """Station, lines and division of a booth for a week (see the module docstring for the order)."""
        booth = (control_area, unit)
        found = self._by_booth.get(booth)
        if found is not None:
            return found
        for edition in self.editions_for(week):
            found = self.editions[edition].get(booth)
            if found is not None:
                return found
        return self._by_remote.get(unit, UNMAPPED)

    def key(self, control_area: str, unit: str) -> StationKey:
        """The booth's normalised station key (the same for both formats)."""
        complex_id = self._complex_by_booth.get((control_area, unit)) or self._complex_by_remote.get(unit)
        if complex_id:
            return StationKey(f"complex:{complex_id}", self._complex_name.get(complex_id))
        return StationKey(f"remote:{unit}", None)


def _text(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def _most_common(values: Iterable[str | None]) -> str | None:
    """The most frequent non-empty value (the smallest of equally frequent ones), or None."""
    counts = Counter(v for v in values if v)
    return min(counts, key=lambda v: (-counts[v], v)) if counts else None


def reference_fingerprint(folder: Path = REFERENCE_DIR) -> str:
    """SHA-256 over the reference tables' bytes (a change changes the clean layer's output)."""
    digest = hashlib.sha256()
    for name in (ENRICHED_FILE, *EDITION_FILES.values()):
        digest.update(name.encode())
        digest.update((folder / name).read_bytes())
    return digest.hexdigest()


def _read_csv(path: Path) -> list[dict[str, str]]:
    # utf-8-sig: the 2015 edition starts with a BOM.
    with open(path, encoding="utf-8-sig", newline="") as source:
        return [
            {key.strip(): (value or "").strip() for key, value in row.items() if isinstance(key, str)}
            for row in csv.DictReader(source)
        ]


def load_station_mapping(folder: Path = REFERENCE_DIR) -> StationMapping:
    """Read the reference tables from ``folder`` (the package's copies by default)."""
    enriched = _read_csv(folder / ENRICHED_FILE)
    edition_2015 = {
        (row["Booth"], row["Remote"]): StationNames(
            _text(row["Station"]), _text(row["Line Name"]), _text(row["Division"]), edition_source("2015")
        )
        for row in _read_csv(folder / EDITION_FILES["2015"])
    }
    edition_2010 = {
        (row["control_area"], row["unit"]): StationNames(
            _text(row["station"]), None, None, edition_source("2010")
        )
        for row in _read_csv(folder / EDITION_FILES["2010"])
    }
    return StationMapping(
        enriched, {"2015": edition_2015, "2010": edition_2010}, reference_fingerprint(folder)
    )


@lru_cache(maxsize=1)
def default_station_mapping() -> StationMapping:
    """The package's reference tables, read once per process."""
    return load_station_mapping()
