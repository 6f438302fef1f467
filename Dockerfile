# plxtra-fix: the FIX gateway, the Plxtra simulator and the FIX harness in one image.
#   docker build -t plxtra-fix-gateway .
#   docker run --rm plxtra-fix-gateway check-config /config/gateway-compose.yaml   (with -v ./config:/config:ro)
# docker-compose.yml runs `sim` and `gateway` from this image.

# --- build: compile QuickFIX's C++ extension once, into wheels -------------------------------------
FROM python:3.11-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential libssl-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY gateway ./gateway
# Wheels for the project and every dependency (quickfix builds from source here, ~10 minutes).
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

# --- run: no compiler, no sources, an unprivileged user ------------------------------------------
FROM python:3.11-slim
COPY --from=build /wheels /wheels
# quickfix's wheel installs its data dictionaries under /usr/local/share/quickfix, where
# gateway.config.dictionaries looks for them.
RUN pip install --no-cache-dir /wheels/*.whl \
 && rm -rf /wheels \
 && useradd --system --create-home --home-dir /home/plxtra plxtra \
 && mkdir -p /data /config \
 && chown plxtra /data
USER plxtra
WORKDIR /home/plxtra
ENV PYTHONUNBUFFERED=1
VOLUME ["/data"]
# 9878: FIX acceptor; 4502: Zenith WebSocket of the simulator
EXPOSE 9878 4502
ENTRYPOINT ["plxtra-fix"]
CMD ["run", "--config", "/config/gateway-compose.yaml"]
