# Build stage: the release binary.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
# jemalloc (the global allocator) is built from source with make.
RUN apt-get update \
 && apt-get install -y --no-install-recommends make \
 && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cargo build --release --locked -p server --bin spaces-oauth

# Runtime stage: the binary and CA certificates (IdP calls are https).
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/spaces-oauth --create-home spaces-oauth
COPY --from=build /src/target/release/spaces-oauth /usr/local/bin/spaces-oauth
USER spaces-oauth
WORKDIR /var/lib/spaces-oauth
# All interfaces, so the published port reaches the server. Without configured keys
# (dev mode) the server then refuses to start: give it VAULT_KEYS and a JWT key source
# (see docker-compose.yml), or, for a throwaway local try only, DEV_MODE_ALLOW_REMOTE=true
# and `docker run -p 127.0.0.1:8080:8080` (GraphiQL still never pre-fills the dev token
# for a client that is not on loopback, which a client through Docker's port is not).
ENV BIND_ADDR=0.0.0.0:8080 LOG_FORMAT=json DATA_DIR=/var/lib/spaces-oauth/data
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s CMD curl -fsS http://127.0.0.1:8080/readyz || exit 1
ENTRYPOINT ["spaces-oauth"]
CMD ["serve"]
