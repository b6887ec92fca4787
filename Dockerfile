# syntax=docker/dockerfile:1
# The RaceLab host as a container image, for Railway (docs/deploy.md).
#
# builder: runs scripts/build-release.sh, the same release build CI runs natively, into /dist.
# runtime: Debian slim with the host, the two source components and their compiled code (the
#          host's compile cache, filled at build time), run by an unprivileged user under tini.

FROM rust:1.95.0-slim-bookworm AS builder

# The slim image brings gcc and libc6-dev already (ring and zstd-sys compile C); they are named
# so that the build does not depend on that. Versions are not pinned: Debian's security updates
# replace them in the archive, and a pinned version that left it would break every build.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates gcc libc6-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src
# The whole workspace: every member's manifest must be there for cargo to resolve it, and the
# host embeds migrations/ and the components their samples.json (.dockerignore drops target/).
COPY . .
RUN bash scripts/build-release.sh /dist


FROM debian:bookworm-slim

# ca-certificates for the HTTPS sources (data.go.kr, Slack) and PostgreSQL over TLS; tini as
# PID 1, so that SIGTERM reaches the host and the host's exit status is the container's.
# Not pinned, for the reason given in the builder stage.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates tini \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 10001 racelab \
 && useradd --uid 10001 --gid 10001 --home-dir /app --no-create-home --shell /usr/sbin/nologin racelab \
 && install -d -o 10001 -g 10001 -m 0700 /app/cache

# The program and the components belong to root: the host cannot change them. The compile cache
# belongs to the host's user, because the host loads native code only from files its own user
# wrote into a directory nobody else may write (host/src/plugins/cache.rs); it also adds to it
# (a version installed through the admin API, or a recompile on a CPU unlike the builder's).
COPY --from=builder /dist/bin/racelab /app/bin/racelab
COPY --from=builder /dist/plugins/ /app/plugins/
COPY --from=builder --chown=10001:10001 /dist/cache/ /app/cache/

ENV RACELAB_PLUGIN_DIR=/app/plugins \
    RACELAB_CACHE_DIR=/app/cache \
    PORT=8080

# The user racelab, by number: the platform need not resolve the name.
USER 10001:10001
WORKDIR /app
EXPOSE 8080

# Railway's health check asks /readyz (railway.json); the image needs no HEALTHCHECK of its own.
ENTRYPOINT ["/usr/bin/tini", "--", "/app/bin/racelab"]
CMD ["serve"]
