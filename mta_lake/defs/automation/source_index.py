"""The MTA index page as the schedule and the sensors read it: quickly, or not at all this tick."""

from datetime import date

from mta_lake.core.source import MtaSite, RetryPolicy
from mta_lake.defs.resources import MtaSource


def index_site(mta_source: MtaSource) -> MtaSite:
    """The site, for reading only the index page within a tick's time (a few short retries)."""
    return MtaSite(
        mta_source.site_url,
        connect_timeout=min(mta_source.connect_timeout_seconds, 10.0),
        read_timeout=min(mta_source.read_timeout_seconds, 20.0),
        user_agent=mta_source.user_agent,
        retry=RetryPolicy(max_retries=min(mta_source.max_retries, 2), backoff_base=1.0, backoff_max=5.0),
        max_index_bytes=mta_source.max_index_bytes,
        deadline_seconds=min(mta_source.download_deadline_seconds, 60.0),
    )


def published_file_dates(mta_source: MtaSource) -> list[date] | None:
    """The index page's file dates, or None when it cannot be read (the reason is logged)."""
    site = index_site(mta_source)
    try:
        return site.published_file_dates()
    finally:
        site.close()
