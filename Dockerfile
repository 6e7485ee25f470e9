# closedloop-mpi: the API and review UI on waitress, with the store on a volume.
#
#   docker build -t closedloop-mpi .
#   docker run --rm -p 8080:8080 -v mpi-data:/data closedloop-mpi                               # demo index
#   docker run --rm -p 8080:8080 -v mpi-data:/data closedloop-mpi mpi serve --host 0.0.0.0   # no demo data
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MPI_DB=/data/mpi.duckdb \
    MPI_MODELS_DIR=/app/matching_models

WORKDIR /app

COPY pyproject.toml README.md ./
COPY mpi ./mpi
COPY api ./api
COPY review_ui ./review_ui
RUN pip install . \
    && useradd --system --uid 10001 --home-dir /app mpi \
    && mkdir -p /data \
    && chown mpi /data

COPY matching_models ./matching_models

USER mpi
VOLUME ["/data"]
EXPOSE 8080

CMD ["mpi", "demo", "--host", "0.0.0.0", "--port", "8080"]
