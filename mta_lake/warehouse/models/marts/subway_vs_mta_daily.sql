{#- The mart's subway beside the MTA's own published daily subway ridership ("Subways: Total Estimated
    Ridership", the seed mta_daily_ridership: 2020-03-01 .. 2024-11-14), one row per day present on both
    sides, with the ratios mart / MTA.

    What the ratios say (measured on the two full weeks in the repo, 2023-12-30 .. 2024-01-12, subway
    only): entries / MTA 0.47-0.55, exits / MTA 0.93-1.08, day-to-day correlation 0.997 for both. In
    the OMNY era the turnstiles' entry registers miss about half of the riders the MTA counts (OMNY
    taps and other entries the registers do not record); exits track the MTA's estimate. (With PATH,
    the SIR and the tram still mixed into the system, as before modes, January-February 2024 measured
    0.47-0.59 and 1.01-1.12.) The warning test warn_subway_vs_mta_ratio_band holds each day's ratios to
    the bands of its era (var mta_daily_ratio_bands).

    A table rebuilt whole on every run: at most one row per day of the MTA's file (1,720), so a join of
    two small tables, never a scan of the history. -#}
{{ config(materialized='table') }}

with published as (
    select
        {{ mta_mart.us_date(adapter.quote('Date')) }} as service_date,
        {{ adapter.quote('Subways: Total Estimated Ridership') }} as mta_subway_ridership,
        {{ adapter.quote('Subways: % of Comparable Pre-Pandemic Day') }} as mta_share_of_pre_pandemic
    from {{ ref('mta_daily_ridership') }}
),

subway as (
    select service_date, entries, exits, stations
    from {{ ref('system_daily_ridership') }}
    where mode = 'subway'
)

select
    subway.service_date,
    subway.entries as mart_entries,
    subway.exits as mart_exits,
    subway.stations as mart_stations,
    cast(published.mta_subway_ridership as {{ dbt.type_bigint() }}) as mta_subway_ridership,
    published.mta_share_of_pre_pandemic,
    1.0 * subway.entries / published.mta_subway_ridership as entries_ratio,
    1.0 * subway.exits / published.mta_subway_ridership as exits_ratio
from subway
inner join published on subway.service_date = published.service_date
where published.mta_subway_ridership > 0
