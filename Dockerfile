# attest in a container: built in a full Rust image, run from a small Debian one as a user
# without privileges. See docs/deployment.md.
#
#   docker build -t attest .
#   docker run --rm -p 8080:8080 -e ATTEST_DATABASE_URL=postgres://… -e ATTEST_LINK_KEY=… attest

FROM rust:1-bookworm AS build
WORKDIR /src
# Dependencies first, so a change to attest's own code does not rebuild them.
COPY Cargo.toml Cargo.lock ./
COPY entity/Cargo.toml entity/Cargo.toml
COPY migration/Cargo.toml migration/Cargo.toml
RUN mkdir -p src entity/src migration/src \
 && echo 'fn main() {}' > src/main.rs && touch src/lib.rs entity/src/lib.rs migration/src/lib.rs \
 && cargo build --release --locked --bin attest || true
COPY . .
# Make cargo see the real sources as newer than the placeholders built above.
RUN touch src/main.rs src/lib.rs entity/src/lib.rs migration/src/lib.rs \
 && cargo build --release --locked --bin attest \
 && strip target/release/attest

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates tzdata \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/attest --create-home attest
COPY --from=build /src/target/release/attest /usr/local/bin/attest
USER attest
WORKDIR /var/lib/attest
# Listen on every interface inside the container; publish the port to choose who reaches it.
ENV ATTEST_BIND=0.0.0.0:8080 \
    ATTEST_LOG=warn,attest=info
EXPOSE 8080
# No HEALTHCHECK: the image has no HTTP client. Point the orchestrator's probes at
# GET /healthz (liveness) and GET /readyz (readiness: database, migrations, workers).
ENTRYPOINT ["attest"]
CMD ["serve"]
