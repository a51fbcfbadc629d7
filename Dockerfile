# The regiongis server image: the same package `make demo` installs, on Debian's Python.
FROM python:3.11-slim-bookworm

RUN apt-get update \
    && apt-get install -y --no-install-recommends gdal-bin \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY protocols protocols
COPY ingest ingest
COPY server server
COPY maps maps
COPY config config
RUN pip install --no-cache-dir .

ENV RGIS_CONFIG_DIR=/app/config \
    RGIS_STATE_DIR=/var/lib/regiongis \
    RGIS_HOST=0.0.0.0
EXPOSE 5000
CMD ["regiongis", "demo"]
