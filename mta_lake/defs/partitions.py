"""``turnstile_weeks``: one partition per MTA weekly file, keyed by the Saturday a week starts."""

from dagster import WeeklyPartitionsDefinition

from mta_lake.core.weeks import FIRST_WEEK

turnstile_weeks = WeeklyPartitionsDefinition(
    start_date=FIRST_WEEK.isoformat(),
    # day_offset counts from Sunday (0): 6 makes every key a Saturday, like the MTA's weeks.
    day_offset=6,
    timezone="America/New_York",
    # end_offset=0 (the default): a week becomes a partition only once it has ended.
)
