"""Benchmark 6: the whole history (720 full-size weeks) through ``dagster dev`` and ``mta-lake backfill``.

    .venv/bin/python -m benchmarks.whole_history                 # 720 weeks, 2010-05-01 .. 2024-02-10
    .venv/bin/python -m benchmarks.whole_history --weeks 104     # the first 104 weeks only
    .venv/bin/python -m benchmarks.whole_history --weeks 104 --weeks-per-run 26 --max-concurrent-runs 2

What a new operator does on day one, on the local instance's defaults:

- **The source.** The MTA mirror (``mta_lake_harness.mirror``, its own process) serves a
  full-size file for every week 2010-05-01 .. 2024-02-10, named ``turnstile_YYMMDD.txt`` after the
  Saturday the week ends. The bytes come from the two full-week fixtures (``turnstile_240106`` and
  ``turnstile_240113``, 33 MB each), decompressed once; files dated up to 2014-10-11 are the same
  readings in the old format (``mta_lake_harness.old_format``). Four byte strings in all,
  alternated week by week and hard-linked under every name (one copy on disk). The dates inside the
  files are not rewritten per week: landing and cleaning never compare them with the file's week, so
  this costs the same work as real files would.
- **The platform.** The real ``dagster dev`` with the repo's ``dagster.yaml`` (copied into a fresh
  DAGSTER_HOME; ``--max-concurrent-runs`` / ``--pool-limit`` change the copy only), a fresh local lake
  folder, ``MTA_RECONCILE_SENSOR=stopped`` (otherwise the sensor requests its own backfill).
- **The command.** ``mta-lake backfill FROM TO --wait --url ...`` as a subprocess: the raw week and the
  clean week of every week (one backfill), then the mart for all of them (one run, launched straight
  into the run queue as soon as every week of the landing is done). Timed from the CLI's start to its
  exit (exit code must be 0); the runs of the backfill and the mart's run are counted, and the
  hand-over (the last landing run's end to the mart run's start) is measured.

Measured: wall time; runs, weeks per run, concurrent runs (from the runs' start and end times);
where the time goes (queue wait, run start-up before the first step, each step, CPU seconds of
each kind of process); every week byte-exact in the lake (each object decompressed, CRC32 and length
compared with the bytes the mirror served) and every clean week present (its Parquet row count read);
peak memory of the whole stack (sum of the RSS of ``dagster dev``'s process tree, sampled every
second); and responsiveness: every ~15 s a ``{ version }`` GraphQL query and a ``mta-lake status
--url ...`` subprocess are timed.
"""

import argparse
import json
import os
import subprocess
import sys
import threading
import time
import zlib
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import requests
import yaml

from benchmarks import common

FIRST_WEEK = date(2010, 5, 1)
LAST_WEEK = date(2024, 2, 10)
LAST_OLD_FORMAT_FILE = date(2014, 10, 11)
"""``turnstile_141011.txt`` is the last file in the old format; ``turnstile_141018.txt`` the first new one."""
PROBE_INTERVAL = 15.0
TARGET_RAW_SECONDS = 600
TARGET_ALL_SECONDS = 900
VENV_BIN = Path(sys.executable).parent
MTA_LAKE = str(VENV_BIN / "mta-lake")
PAGE = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")


def week_keys(count: int | None = None) -> list[date]:
    keys = []
    week = FIRST_WEEK
    while week <= LAST_WEEK:
        keys.append(week)
        week += timedelta(days=7)
    return keys[:count] if count else keys


def file_name(week: date) -> str:
    return f"turnstile_{week + timedelta(days=7):%y%m%d}.txt"


# -- the source -----------------------------------------------------------------------------
def build_site(site_root: Path, keys: Sequence[date]) -> dict[str, tuple[int, int]]:
    """Publish a file for every week; returns {file name: (CRC32, length)} of what is served."""
    from mta_lake_harness.old_format import to_old_format

    originals = site_root / "originals"
    originals.mkdir(parents=True)
    variants: dict[tuple[str, int], Path] = {}
    crcs: dict[Path, tuple[int, int]] = {}
    for i, source in enumerate(common.FULL_WEEKS):
        new = common.read_source(source)
        for era, data in (("new", new), ("old", to_old_format(new))):
            path = originals / f"{era}-{i}.txt"
            path.write_bytes(data)
            variants[era, i] = path
            crcs[path] = (zlib.crc32(data), len(data))
    served = {}
    for n, week in enumerate(keys):
        name = file_name(week)
        era = "old" if week + timedelta(days=7) <= LAST_OLD_FORMAT_FILE else "new"
        original = variants[era, n % 2]
        os.link(original, site_root / name)
        served[name] = crcs[original]
    return served


# -- the stack's processes ------------------------------------------------------------------
def _proc_table() -> dict[int, tuple[int, int, float, str]]:
    """{pid: (ppid, rss bytes, cpu seconds, command line)} of every process we can read."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat_file:
                stat = stat_file.read()
            with open(f"/proc/{entry}/cmdline", "rb") as cmd_file:
                cmdline = cmd_file.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        ppid = int(fields[1])
        cpu = (int(fields[11]) + int(fields[12])) / TICKS
        rss = int(fields[21]) * PAGE
        table[int(entry)] = (ppid, rss, cpu, cmdline)
    return table


def _role(cmdline: str) -> str:
    if "execute_run" in cmdline or "execute_step" in cmdline or "spawn_main" in cmdline:
        return "run workers"  # the code server starts each run worker with multiprocessing
    if "watch_orphans.py" in cmdline or cmdline.startswith("tail -F"):
        return "compute-log capture"
    if "dagster-webserver" in cmdline or "dagster_webserver" in cmdline:
        return "webserver"
    if "dagster-daemon" in cmdline or "daemon run" in cmdline:
        return "daemon"
    if "grpc" in cmdline or "code-server" in cmdline:
        return "code server"
    if "mta_lake_harness.mirror" in cmdline:
        return "mirror"
    return "dagster dev"


@dataclass
class Sampler:
    """Every second: RSS of ``root``'s process tree (summed), run workers alive, CPU by role."""

    root: int
    mirror: int | None = None
    peak_rss: int = 0
    peak_rss_at: float = 0.0
    peak_processes: int = 0
    peak_run_workers: int = 0
    cpu: dict[int, tuple[str, float]] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> "Sampler":
        self.started = time.monotonic()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()
        return self

    def _loop(self) -> None:
        while not self.stop.is_set():
            self.sample()
            self.stop.wait(1.0)

    def sample(self) -> None:
        table = _proc_table()
        children = defaultdict(list)
        for pid, (ppid, *_rest) in table.items():
            children[ppid].append(pid)
        tree, todo = [], [self.root]
        while todo:
            pid = todo.pop()
            if pid in table:
                tree.append(pid)
            todo.extend(children.get(pid, []))
        rss = sum(table[pid][1] for pid in tree)
        if rss > self.peak_rss:
            self.peak_rss, self.peak_rss_at = rss, time.monotonic() - self.started
        self.peak_processes = max(self.peak_processes, len(tree))
        workers = sum(1 for pid in tree if _role(table[pid][3]) == "run workers")
        self.peak_run_workers = max(self.peak_run_workers, workers)
        for pid in [*tree, *([self.mirror] if self.mirror in table else [])]:
            _ppid, _rss, cpu, cmdline = table[pid]
            if not cmdline:  # a process that has exited (a zombie): keep its last figures
                continue
            self.cpu[pid] = (_role(cmdline), cpu)

    def finish(self) -> dict[str, float]:
        self.stop.set()
        self.thread.join()
        by_role: dict[str, float] = defaultdict(float)
        for role, seconds in self.cpu.values():
            by_role[role] += seconds
        return dict(by_role)


@dataclass
class Prober:
    """Every ``interval`` s: a ``{ version }`` GraphQL query and a ``mta-lake status --url`` call, timed."""

    url: str
    env: dict[str, str]
    interval: float = PROBE_INTERVAL
    graphql: list[tuple[float, float, str]] = field(default_factory=list)
    status: list[tuple[float, float, str]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def probe_graphql(self) -> tuple[float, str]:
        started = time.perf_counter()
        try:
            response = requests.post(f"{self.url}/graphql", json={"query": "{ version }"}, timeout=120)
            outcome = "ok" if response.ok and "version" in response.text else f"HTTP {response.status_code}"
        except requests.RequestException as error:
            outcome = type(error).__name__
        return time.perf_counter() - started, outcome

    def probe_status(self) -> tuple[float, str]:
        started = time.perf_counter()
        try:
            completed = subprocess.run(
                [MTA_LAKE, "status", "--url", self.url, "--json"],
                env=self.env,
                capture_output=True,
                timeout=300,
            )
            outcome = "ok" if completed.returncode == 0 else f"exit {completed.returncode}"
        except subprocess.TimeoutExpired:
            outcome = "timeout"
        return time.perf_counter() - started, outcome

    def start(self) -> "Prober":
        self.started = time.monotonic()
        self.threads = [
            threading.Thread(target=self._loop, args=(self.probe_graphql, self.graphql), daemon=True),
            threading.Thread(target=self._loop, args=(self.probe_status, self.status), daemon=True),
        ]
        for thread in self.threads:
            thread.start()
        return self

    def _loop(self, probe: Any, results: list[tuple[float, float, str]]) -> None:
        while not self.stop.is_set():
            at = time.monotonic() - self.started
            seconds, outcome = probe()
            results.append((at, seconds, outcome))
            self.stop.wait(max(0.0, self.interval - seconds))

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join()


# -- after the run --------------------------------------------------------------------------
RUN_TIMES_QUERY = """
query Runs($filter: RunsFilter!, $cursor: String) {
  runsOrError(filter: $filter, cursor: $cursor, limit: 200) {
    __typename
    ... on Runs {
      results {
        runId status creationTime startTime endTime
        tags { key value }
        stepStats { stepKey status startTime endTime }
      }
    }
  }
}
"""


def run_times(url: str, backfill_id: str | None = None, run_id: str | None = None) -> list[dict[str, Any]]:
    """The runs of a backfill, or one run, with their times."""
    runs: list[dict[str, Any]] = []
    cursor = None
    run_filter = (
        {"tags": [{"key": "dagster/backfill", "value": backfill_id}]} if backfill_id else {"runIds": [run_id]}
    )
    while True:
        response = requests.post(
            f"{url}/graphql",
            json={
                "query": RUN_TIMES_QUERY,
                "variables": {"filter": run_filter, "cursor": cursor},
            },
            timeout=300,
        )
        response.raise_for_status()
        page = response.json()["data"]["runsOrError"]["results"]
        runs.extend(page)
        if len(page) < 200:
            return runs
        cursor = page[-1]["runId"]


def run_analysis(runs: list[dict[str, Any]], launched_at: float) -> dict[str, Any]:
    """Weeks per run, concurrency, and where each run's time went (all from Dagster's own records)."""
    from mta_lake.core import weeks

    sizes = [len(weeks.run_weeks({t["key"]: t["value"] for t in run["tags"]})) for run in runs]
    spans = [(run["startTime"], run["endTime"]) for run in runs if run["startTime"] and run["endTime"]]
    edges = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans], key=lambda x: (x[0], x[1]))
    concurrent = peak = 0
    for _, step in edges:
        concurrent += step
        peak = max(peak, concurrent)
    busy = sum(e - s for s, e in spans)
    first_start = min(s for s, _ in spans)
    last_end = max(e for _, e in spans)
    # The hand-over: from the end of the last landing run to the start of the mart's run.
    mart = [r for r in runs if "dagster/backfill" not in {t["key"] for t in r["tags"]} and r["startTime"]]
    landing_ends = [r["endTime"] for r in runs if r not in mart and r["endTime"]]
    hand_over = min(r["startTime"] for r in mart) - max(landing_ends) if mart and landing_ends else None
    startup, step_seconds, step_done = [], defaultdict(float), defaultdict(float)
    for run in runs:
        steps = [s for s in run["stepStats"] if s["startTime"]]
        if steps and run["startTime"]:
            startup.append(min(s["startTime"] for s in steps) - run["startTime"])
        for step in steps:
            if step["endTime"]:
                step_seconds[step["stepKey"]] += step["endTime"] - step["startTime"]
                step_done[step["stepKey"]] = max(step_done[step["stepKey"]], step["endTime"] - launched_at)
    return {
        "runs": len(runs),
        "statuses": dict(
            sorted({r["status"]: sum(1 for x in runs if x["status"] == r["status"]) for r in runs}.items())
        ),
        "weeks_per_run": f"{min(sizes)}-{max(sizes)}" if min(sizes) != max(sizes) else str(sizes[0]),
        "peak_concurrent_runs": peak,
        "mean_concurrent_runs": busy / (last_end - first_start),
        "first_run_started_s": first_start - launched_at,
        "last_run_ended_s": last_end - launched_at,
        "run_seconds_total": busy,
        "startup_seconds_mean": sum(startup) / len(startup) if startup else None,
        "startup_seconds_total": sum(startup),
        "step_seconds": dict(step_seconds),
        "step_done_s": dict(step_done),
        "hand_over_to_mart_s": hand_over,
    }


def _check_week(job: tuple[str, str, int, int, str]) -> str | None:
    raw_path, clean_path, crc, length, week = job
    try:
        with open(raw_path, "rb") as raw:
            decompressor = zlib.decompressobj(31)
            got_crc, got_length = 0, 0
            while chunk := raw.read(1 << 20):
                data = decompressor.decompress(chunk)
                got_crc, got_length = zlib.crc32(data, got_crc), got_length + len(data)
            data = decompressor.flush()
            got_crc, got_length = zlib.crc32(data, got_crc), got_length + len(data)
    except OSError as error:
        return f"{week}: raw object unreadable ({error})"
    if (got_crc, got_length) != (crc, length):
        return f"{week}: raw object differs (crc {got_crc:08x} len {got_length} != {crc:08x} len {length})"
    import pyarrow.parquet as pq

    try:
        rows = pq.read_metadata(clean_path).num_rows
    except OSError as error:
        return f"{week}: clean week missing ({error})"
    if rows <= 0:
        return f"{week}: clean week empty"
    return None


def verify_lake(lake: Path, keys: Sequence[date], served: dict[str, tuple[int, int]]) -> list[str]:
    from mta_lake.core.layout import clean_readings_key, raw_key

    jobs = [
        (
            str(lake / raw_key(file_name(w))),
            str(lake / clean_readings_key(w.isoformat())),
            *served[file_name(w)],
            w.isoformat(),
        )
        for w in keys
    ]
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        return [problem for problem in pool.map(_check_week, jobs, chunksize=8) if problem]


# -- one measurement ------------------------------------------------------------------------
def instance_config(work: Path, max_concurrent_runs: int | None, pool_limit: int | None) -> Path:
    config = yaml.safe_load((common.REPO_ROOT / "dagster.yaml").read_text())
    if max_concurrent_runs is not None:
        config["concurrency"]["runs"]["max_concurrent_runs"] = max_concurrent_runs
    if pool_limit is not None:
        config["concurrency"]["pools"]["default_limit"] = pool_limit
    path = work / "dagster.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def measure(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    from mta_lake_harness.dagster_processes import running_dagster_dev

    keys = week_keys(args.weeks)
    site_root, lake = work / "site", work / "lake"
    print(f"building the mirror's {len(keys)} files ...", flush=True)
    served = build_site(site_root, keys)
    config_path = instance_config(work, args.max_concurrent_runs, args.pool_limit)
    config = yaml.safe_load(config_path.read_text())
    code_root = common.REPO_ROOT
    if args.snapshot:
        code_root = snapshot_code(work / "code")
    with common.mirror_process(site_root) as site_url:
        env = {
            **os.environ,
            "MTA_SITE_URL": site_url,
            "MTA_LAKE_URL": str(lake),
            "MTA_RECONCILE_SENSOR": "stopped",
        }
        if args.snapshot:
            # Ahead of the editable install: every Dagster process and the CLI import the copy.
            env["PYTHONPATH"] = str(code_root)
        env.pop("MTA_WEEKS_PER_RUN", None)
        env.pop("MTA_DAGSTER_UI_URL", None)
        if args.weeks_per_run:
            env["MTA_WEEKS_PER_RUN"] = str(args.weeks_per_run)
        mirror_pid = _mirror_pid(site_url)
        with running_dagster_dev(env, work / "dagster-home", config=config_path, cwd=code_root) as dev:
            cli_env = {**env, "PATH": f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"}
            sampler = Sampler(dev.process.pid, mirror_pid).start()
            idle_graphql = min(Prober(dev.url, cli_env).probe_graphql()[0] for _ in range(3))
            idle_status = Prober(dev.url, cli_env).probe_status()[0]
            prober = Prober(dev.url, cli_env).start()
            command = [
                MTA_LAKE,
                "backfill",
                keys[0].isoformat(),
                keys[-1].isoformat(),
                "--wait",
                "--url",
                dev.url,
            ]
            print(f"$ {' '.join(command[1:])}", flush=True)
            cli_log = work / "cli.log"
            launched_at = time.time()
            started = time.perf_counter()
            with open(cli_log, "wb") as log:
                exit_code = subprocess.run(
                    command, env=cli_env, stdout=log, stderr=subprocess.STDOUT, timeout=args.timeout
                ).returncode
            seconds = time.perf_counter() - started
            prober.finish()
            cpu = sampler.finish()
            output = cli_log.read_text(errors="replace")
            # The landing's backfill, then (with --wait) the mart's run(s), launched straight into the queue.
            backfill_ids = [
                line.split()[2] for line in output.splitlines() if line.startswith("launched backfill ")
            ]
            mart_run_ids = [
                line.split()[2] for line in output.splitlines() if line.startswith("launched run ")
            ]
            runs = [run for backfill_id in backfill_ids for run in run_times(dev.url, backfill_id)]
            runs += [run for run_id in mart_run_ids for run in run_times(dev.url, run_id=run_id)]
            analysis = run_analysis(runs, launched_at) if runs else {}
            dev_log = dev.log_path
    problems = verify_lake(lake, keys, served)

    def worst(samples: list[tuple[float, float, str]]) -> tuple[float, int, list[str]]:
        bad = [f"{at:.0f}s: {outcome}" for at, _s, outcome in samples if outcome != "ok"]
        return (max((s for _a, s, _o in samples), default=0.0), len(samples), bad)

    graphql_max, graphql_n, graphql_bad = worst(prober.graphql)
    status_max, status_n, status_bad = worst(prober.status)
    raw_steps = sum(v for k, v in analysis.get("step_seconds", {}).items() if "raw" in k)
    return {
        "command": " ".join(["mta-lake", *command[1:4]]),
        "weeks": len(keys),
        "weeks_per_run_setting": args.weeks_per_run or "default",
        "max_concurrent_runs": config["concurrency"]["runs"]["max_concurrent_runs"],
        "pool_limit": config["concurrency"]["pools"]["default_limit"],
        "seconds": seconds,
        "exit_code": exit_code,
        "weeks_ok": len(keys) - len(problems),
        "problems": problems[:10],
        "peak_stack_rss_mib": sampler.peak_rss / common.MIB,
        "peak_stack_rss_at_s": sampler.peak_rss_at,
        "peak_processes": sampler.peak_processes,
        "peak_run_workers_seen": sampler.peak_run_workers,
        "cpu_seconds": {k: round(v, 1) for k, v in sorted(cpu.items())},
        "graphql_idle_s": idle_graphql,
        "graphql_max_s": graphql_max,
        "graphql_probes": graphql_n,
        "graphql_failures": graphql_bad,
        "status_idle_s": idle_status,
        "status_max_s": status_max,
        "status_probes": status_n,
        "status_failures": status_bad,
        "raw_step_seconds": raw_steps,
        **analysis,
        "cli_tail": output.splitlines()[-3:],
        "dagster_log": str(dev_log),
        "code": "HEAD snapshot" if args.snapshot else "working tree",
        "load_before": args.load_before,
        "load_after": list(os.getloadavg()),
    }


def snapshot_code(target: Path) -> Path:
    """The package as committed at HEAD (``git archive``, read-only for the repository), so that
    edits made in the working tree during a 15-minute run cannot reach its run workers."""
    target.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "archive", "--format=tar", "HEAD", "mta_lake"],
        cwd=common.REPO_ROOT,
        capture_output=True,
        check=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=common.REPO_ROOT, capture_output=True, text=True
    )
    print(f"code: mta_lake as committed at {commit.stdout.strip()} (copy in {target})", flush=True)
    return target


def _mirror_pid(site_url: str) -> int | None:
    port = site_url.split(":")[2].split("/")[0]
    for pid, (_ppid, _rss, _cpu, cmdline) in _proc_table().items():
        if "mta_lake_harness.mirror" in cmdline and f"--port {port}" in cmdline:
            return pid
    return None


def table(result: dict[str, Any]) -> str:
    r = result
    rows = [
        ["command", f"`{r['command']} --wait --url ...`"],
        ["weeks", r["weeks"]],
        [
            "MTA_WEEKS_PER_RUN / max_concurrent_runs / pool limit",
            f"{r['weeks_per_run_setting']} / {r['max_concurrent_runs']} / {r['pool_limit']}",
        ],
        ["wall s, CLI start to exit", r["seconds"]],
        ["CLI exit code", r["exit_code"]],
        ["runs (weeks per run)", f"{r.get('runs')} ({r.get('weeks_per_run')}) {r.get('statuses')}"],
        [
            "concurrent runs: peak / mean",
            f"{r.get('peak_concurrent_runs')} / {r.get('mean_concurrent_runs', 0):.2f}",
        ],
        [
            "first run started / last run ended, s after launch",
            f"{r.get('first_run_started_s', 0):.1f} / {r.get('last_run_ended_s', 0):.1f}",
        ],
        [
            "run start-up before first step: mean s (sum)",
            f"{r.get('startup_seconds_mean') or 0:.1f} ({r.get('startup_seconds_total', 0):.0f})",
        ],
        [
            "every week's step done, s after launch",
            ", ".join(f"{k} {v:.0f}" for k, v in r.get("step_done_s", {}).items()),
        ],
        [
            "step seconds (sum over runs)",
            ", ".join(f"{k} {v:.0f}" for k, v in r.get("step_seconds", {}).items()),
        ],
        ["CPU seconds by process", ", ".join(f"{k} {v:.0f}" for k, v in r["cpu_seconds"].items())],
        ["weeks byte-exact raw + clean present", f"{r['weeks_ok']} / {r['weeks']}"],
        [
            "peak RSS of the whole stack (dagster dev's tree)",
            f"{r['peak_stack_rss_mib']:.0f} MiB ({r['peak_processes']} processes at most)",
        ],
        [
            "`{ version }` max s (idle; probes; failures)",
            f"{r['graphql_max_s']:.2f} ({r['graphql_idle_s']:.2f}; {r['graphql_probes']}; {len(r['graphql_failures'])})",
        ],
        [
            "`mta-lake status --url` max s (idle; probes; failures)",
            f"{r['status_max_s']:.2f} ({r['status_idle_s']:.2f}; {r['status_probes']}; {len(r['status_failures'])})",
        ],
        [
            "load average before / after",
            f"{' '.join(f'{x:.2f}' for x in r['load_before'])} / {' '.join(f'{x:.2f}' for x in r['load_after'])}",
        ],
    ]
    return common.format_table(["", "measured"], rows)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--weeks", type=int, default=None, help="only the first N weeks (default: all 720)")
    parser.add_argument(
        "--keep",
        type=Path,
        nargs="?",
        const=Path("whole-history-work"),
        default=None,
        help="keep the work folder (mirror files, lake, DAGSTER_HOME, logs) at this path",
    )
    parser.add_argument(
        "--weeks-per-run", type=int, default=None, help="MTA_WEEKS_PER_RUN (default: the code's)"
    )
    parser.add_argument(
        "--max-concurrent-runs", type=int, default=None, help="override dagster.yaml's (copy only)"
    )
    parser.add_argument(
        "--pool-limit", type=int, default=None, help="override the mta_source pool limit (copy only)"
    )
    parser.add_argument("--timeout", type=float, default=3600, help="seconds the CLI may take")
    parser.add_argument(
        "--snapshot",
        action="store_true",
        help="load mta_lake as committed at HEAD (a git archive copy), not the working tree",
    )
    parser.add_argument(
        "--json", type=Path, default=None, help="also append the figures as one JSON line here"
    )
    args = parser.parse_args(argv)
    args.load_before = list(os.getloadavg())
    print(f"machine: {common.machine_summary()}", flush=True)
    with common.work_dir(args.keep) as work:
        result = measure(args, work)
    print(table(result))
    if result["problems"]:
        print("problems:", *result["problems"], sep="\n  ")
    if args.json:
        with open(args.json, "a") as out:
            out.write(json.dumps(result) + "\n")
    ok = result["exit_code"] == 0 and result["weeks_ok"] == result["weeks"]
    print(f"\nresult: {'every week byte-exact, CLI exit 0' if ok else 'NOT OK'}")
    return result


if __name__ == "__main__":
    main()
