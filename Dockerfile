# plxtra-fix: the FIX gateway, the Plxtra simulator and the FIX harness in one image.
#   docker build -t plxtra-fix-gateway .
#   docker run --rm plxtra-fix-gateway check-config /config/gateway-compose.yaml   (with -v ./config:/config:ro)
# docker-compose.yml runs `sim` and `gateway` from this image.

# --- build: compile QuickFIX's C++ extension once, into wheels -------------------------------------
FROM python:3.11-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential libssl-dev libpq-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# quickfix with its SSL connectors (FIX over TLS) and PostgreSQL message store: built once as
# quickfix-<v>+ssl.plx4, which pip prefers to the plain release when resolving the dependencies below.
COPY deploy/build-quickfix-ssl.sh deploy/patch-quickfix.py deploy/quickfix-loop-sockets.cpp ./deploy/
RUN pip install --no-cache-dir setuptools wheel && deploy/build-quickfix-ssl.sh python /wheels
COPY pyproject.toml README.md ./
COPY gateway ./gateway
# Wheels for the project and every other dependency.
RUN pip wheel --no-cache-dir --find-links /wheels --wheel-dir /wheels .

# --- run: no compiler, no sources, an unprivileged user ------------------------------------------
FROM python:3.11-slim
# libpq5: quickfix's PostgreSQL message store links it (message_store: postgresql).
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpq5 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /wheels /wheels
# quickfix's wheel installs its data dictionaries under /usr/local/share/quickfix, where
# gateway.config.dictionaries looks for them.
RUN pip install --no-cache-dir --no-index --find-links /wheels plxtra-fix-gateway \
 && rm -rf /wheels \
 && useradd --system --create-home --home-dir /home/plxtra plxtra \
 && mkdir -p /data /config \
 && chown plxtra /data
# The certification scenarios travel with the image (plxtra-fix certify specs/...).
COPY --chown=plxtra specs /home/plxtra/specs
USER plxtra
WORKDIR /home/plxtra
ENV PYTHONUNBUFFERED=1
VOLUME ["/data"]
# 9878: FIX acceptor; 9443: FIX over TLS; 9879: admin API (health, metrics); 4502: simulator's Zenith
EXPOSE 9878 9443 9879 4502
# Readiness through the admin API (token from the config, i.e. $PLXTRA_ADMIN_TOKEN).
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["plxtra-fix", "admin", "--config", "/config/gateway-compose.yaml", "health"]
ENTRYPOINT ["plxtra-fix"]
CMD ["run", "--config", "/config/gateway-compose.yaml"]
