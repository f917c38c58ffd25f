"""Freshness of ``raw_turnstile``: the UI shows when the newest week is overdue.

A ``FreshnessPolicy`` that the daemon evaluates on its own: no check step in every landing run and
no sensor launching check runs (both cluttered the run list and cost a process per run). The MTA
publishes a week's file on the Saturday after it ends; the schedule lands it that morning, and the
reconciliation sensor later that weekend if the file came late. By the deadline, Sunday 18:00 New
York, the asset should have been materialised within the seven days before it; otherwise the UI marks
it overdue, until the week lands.

The policy looks at the asset's newest materialisation of any week, so backfilling an old week
also makes it look fresh; whether the *source* is still publishing is the reconciliation's to say
(``mta-lake status``).
"""

from datetime import timedelta

from dagster import FreshnessPolicy

from mta_lake.core.weeks import NEW_YORK_ZONE

FRESHNESS_DEADLINE_CRON = "0 18 * * 0"
"""Sundays 18:00 New York time: by then the week that ended on Saturday should be in the lake."""

RAW_TURNSTILE_FRESHNESS = FreshnessPolicy.cron(
    deadline_cron=FRESHNESS_DEADLINE_CRON,
    lower_bound_delta=timedelta(days=7),
    timezone=NEW_YORK_ZONE,
)
