# igny8d: one process, embedded SQLite in /data by default.
#   docker build -t igny8d .
#   docker run -p 8000:8000 -v igny8d-data:/data igny8d
# For Postgres: -e IGNY8_DATABASE_URL=postgresql+asyncpg://user:pass@db:5432/igny8d
FROM python:3.11-slim AS build
WORKDIR /src
COPY setup.cfg pyproject.toml README.md constraints.txt ./
COPY igny8d ./igny8d
COPY tui ./tui
RUN pip install --no-cache-dir --prefix=/install -c constraints.txt .

FROM python:3.11-slim
RUN useradd --system --create-home --uid 10001 igny8d \
 && mkdir -p /data && chown igny8d:igny8d /data
COPY --from=build /install /usr/local
COPY config/igny8d.toml /etc/igny8d/igny8d.toml
ENV IGNY8_CONFIG=/etc/igny8d/igny8d.toml \
    IGNY8_DATA_DIR=/data \
    IGNY8_HOST=0.0.0.0 \
    IGNY8_PORT=8000 \
    PYTHONUNBUFFERED=1
USER igny8d
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/api/v1/system/ping/', timeout=2).status == 200 else 1)"
STOPSIGNAL SIGTERM
CMD ["sh", "-c", "igny8d migrate && exec igny8d serve"]
