"""The mart's external check: the MTA's published annual ridership by station complex (2013-2018).

Once a whole calendar year is in the warehouse, the mart's annual entries are compared with the MTA's
published totals: the system-wide ratio (mart / published) and the share of station complexes whose
mart entries are within +-10 % of the published figure. The MTA counts fare-paid entries (some pass no
turnstile), so a ratio a little under 1 is expected; the figures are reported, not asserted.

Matching stations: the MTA's complexes are named like "59 St-Columbus Circle" (trains "1 A B C D"),
the turnstile files like "59 ST-COLUMBUS" or "59 ST COLUMBUS". Both sides are reduced by
``name_key`` (upper case, letters and digits only, common words spelled one way) and matched when one
key equals or starts the other; only unambiguous one-to-one matches take part in the share, and the
report says how many matched. A better join (the clean layer's complex ids) can replace
``match_complexes`` without changing ``compare_annual``.
"""

import csv
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

REFERENCE = (
    Path(__file__).resolve().parent
    / "reference"
    / "mta_annual_ridership_2013-2018_combined_ridership2018.csv"
)
PUBLISHED_YEARS = range(2013, 2019)
WITHIN_SHARE = 0.10

_WORDS = {
    "STREET": "ST",
    "AVENUE": "AV",
    "AVE": "AV",
    "SQUARE": "SQ",
    "CENTER": "CTR",
    "PLAZA": "PLZ",
    "ROAD": "RD",
}


@dataclass(frozen=True)
class AnnualComparison:
    year: int
    mart_entries: int
    """All of the mart's entries in the year (every station, matched or not)."""
    published_entries: int
    """All of the MTA's published entries in the year."""
    system_ratio: float
    compared: int
    """Complexes present on both sides."""
    within: int
    """Of those, complexes whose mart entries are within +-10 % of the published figure."""
    share_within: float
    worst: list[tuple[str, int, int]] = field(default_factory=list)
    """The ten compared complexes furthest off: (complex, mart, published)."""

    def metadata(self) -> dict[str, float | int]:
        """Numbers for the asset check's metadata."""
        return {
            "year": self.year,
            "mart_entries": self.mart_entries,
            "published_entries": self.published_entries,
            "system_ratio": round(self.system_ratio, 4),
            "complexes_compared": self.compared,
            "complexes_within_10pct": self.within,
            "share_within_10pct": round(self.share_within, 4),
        }


def compare_annual(
    year: int, mart: Mapping[str, int], published: Mapping[str, int], within: float = WITHIN_SHARE
) -> AnnualComparison:
    """Compare two mappings of annual entries keyed alike (complex -> entries). Pure.

    The system ratio uses every entry on both sides; the share within +-``within`` uses the keys present
    on both sides with a positive published figure."""
    mart_total = sum(mart.values())
    published_total = sum(published.values())
    common = [key for key in published if key in mart and published[key] > 0]
    close = [key for key in common if abs(mart[key] - published[key]) <= within * published[key]]
    worst = sorted(common, key=lambda key: abs(mart[key] / published[key] - 1), reverse=True)[:10]
    return AnnualComparison(
        year=year,
        mart_entries=mart_total,
        published_entries=published_total,
        system_ratio=mart_total / published_total if published_total else float("nan"),
        compared=len(common),
        within=len(close),
        share_within=len(close) / len(common) if common else float("nan"),
        worst=[(key, mart[key], published[key]) for key in worst],
    )


def published_annual_ridership(year: int, path: Path = REFERENCE) -> dict[str, int]:
    """The MTA's published entries per complex for ``year`` (2013-2018), keyed "complex_nm [trains]"."""
    if year not in PUBLISHED_YEARS:
        raise ValueError(f"the MTA's published complex ridership covers 2013-2018, not {year}")
    column = f"tot{year}"
    result: dict[str, int] = {}
    with open(path, newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            value = row.get(column, "").strip()
            if not value or not row["complex_nm"].strip():
                continue  # 8 rows of the file have neither a name nor figures
            result[f"{row['complex_nm'].strip()} [{row['trains'].strip()}]"] = int(float(value))
    return result


def name_key(name: str) -> str:
    """A station or complex name reduced for matching: "59 St-Columbus Circle [1 A]" -> "59STCOLUMBUSCIRCLE"."""
    text = re.sub(r"\[.*\]", "", name).upper()
    words = re.findall(r"[A-Z0-9]+", text)
    return "".join(_WORDS.get(word, word) for word in words)


def match_complexes(stations: Mapping[str, str], complexes: list[str]) -> dict[str, str]:
    """Station key -> complex, for stations whose name (``stations``: key -> published name) matches
    exactly one complex and that complex exactly one station: equal name keys, else one starting the other."""
    complex_keys = {complex_name: name_key(complex_name) for complex_name in complexes}
    candidates: dict[str, list[str]] = {}
    for station, station_name in stations.items():
        key = name_key(station_name)
        if not key:
            continue
        exact = [c for c, ck in complex_keys.items() if ck == key]
        found = exact or [c for c, ck in complex_keys.items() if ck.startswith(key) or key.startswith(ck)]
        if len(found) == 1:
            candidates[station] = found
    claimed: dict[str, list[str]] = {}
    for station, found in candidates.items():
        claimed.setdefault(found[0], []).append(station)
    return {stations_[0]: complex_name for complex_name, stations_ in claimed.items() if len(stations_) == 1}


def whole_years(connection: object) -> list[int]:
    """Calendar years with every day present in system_daily_ridership's subway rows (one per day and
    mode: the MTA's figures are the subway's)."""
    rows = connection.execute(  # type: ignore[attr-defined]
        """
        select year(service_date) as year, count(distinct service_date) as days
        from system_daily_ridership where mode = 'subway' group by 1 order by 1
        """
    ).fetchall()
    return [year for year, days in rows if days == (date(year + 1, 1, 1) - date(year, 1, 1)).days]


def mart_annual_entries(connection: object, year: int) -> tuple[dict[str, int], dict[str, str]]:
    """The mart's entries per subway station for ``year`` (the MTA's table is the subway's: PATH, SIR and
    the tram are left out), and each station's name on its latest day of the year."""
    rows = connection.execute(  # type: ignore[attr-defined]
        """
        select station, arg_max(station_name, service_date), sum(entries)
        from station_daily_ridership
        where service_date >= make_date($year, 1, 1) and service_date < make_date($year + 1, 1, 1)
          and mode = 'subway'
        group by station
        """,
        {"year": year},
    ).fetchall()
    return {row[0]: int(row[2]) for row in rows}, {row[0]: row[1] or row[0] for row in rows}


def check_annual_ridership(connection: object, reference: Path = REFERENCE) -> list[AnnualComparison]:
    """Every whole year 2013-2018 in the warehouse compared with the published figures (empty when none)."""
    results = []
    for year in whole_years(connection):
        if year not in PUBLISHED_YEARS:
            continue
        by_station, names = mart_annual_entries(connection, year)
        published = published_annual_ridership(year, reference)
        matches = match_complexes(names, list(published))
        mart_by_complex: dict[str, int] = {}
        for station, entries in by_station.items():
            complex_name = matches.get(station)
            # Unmatched stations still count in the system total, under their own key.
            key = complex_name if complex_name is not None else f"station:{station}"
            mart_by_complex[key] = mart_by_complex.get(key, 0) + entries
        results.append(compare_annual(year, mart_by_complex, published))
    return results
