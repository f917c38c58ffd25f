# mta_lake's one image: the code server (default command), and with another command the
# webserver, the daemon and every run container (docker-compose.yaml, deploy/helm/values.yaml).
# Build: docker build -t mta-lake .      Lint: hadolint Dockerfile (in make test / CI)
FROM python:3.11-slim-bookworm

# No .pyc files in layers, output straight to the container log, no pip cache in the image,
# and no pip version check (no network needed at start).
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DAGSTER_HOME=/opt/dagster/dagster_home

WORKDIR /opt/dagster/app

# 1. Dependencies only, from the lock (constraints.txt): this layer is rebuilt only when the
#    dependencies change, not on every code change. The list is pyproject.toml's
#    dependencies plus the `deploy` extra (dagster-docker for the DockerRunLauncher).
COPY pyproject.toml constraints.txt ./
RUN python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; print('\n'.join(p['dependencies'] + p['optional-dependencies']['deploy']))" > /tmp/requirements.txt \
    && pip install --no-cache-dir -c constraints.txt -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# 2. The code, installed without touching the dependencies installed above.
COPY README.md ./
COPY mta_lake/ ./mta_lake/
RUN pip install --no-cache-dir --no-deps .

# 3. The production instance and the gRPC workspace for the webserver and the daemon. No
#    credentials: they come from the environment and a read-only mount at run time.
COPY deploy/dagster.yaml deploy/workspace.yaml ${DAGSTER_HOME}/

# A numeric, unprivileged user (hadolint DL3066 wants a UID, and Kubernetes' runAsNonRoot can
# only verify a numeric one). It owns DAGSTER_HOME, where Dagster keeps local compute logs.
RUN groupadd --system --gid 10001 dagster \
    && useradd --system --uid 10001 --gid 10001 --home-dir /opt/dagster --no-create-home dagster \
    && chown -R 10001:10001 ${DAGSTER_HOME}
# The mart's warehouse folder, and dagster-dbt's preparation of the mart's dbt project (dbt parse, once,
# here), so that the code server and every run container load the definitions without parsing. The
# manifest goes into the copy of the code they import: the one in this folder (PYTHONPATH), which the
# code server (-m, from this working directory) and the run containers import.
ENV MTA_WAREHOUSE_PATH=/opt/dagster/warehouse/mta.duckdb
RUN mkdir -p /opt/dagster/warehouse \
    && PYTHONPATH=/opt/dagster/app dagster-dbt project prepare-and-package --file mta_lake/defs/mart/project.py \
    && chown -R 10001:10001 /opt/dagster/warehouse
USER 10001:10001

# The code server's gRPC port (deploy/workspace.yaml, deploy/helm/values.yaml).
EXPOSE 4000

CMD ["dagster", "code-server", "start", "-h", "0.0.0.0", "-p", "4000", "-m", "mta_lake.definitions"]
