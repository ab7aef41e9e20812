# syntax=docker/dockerfile:1
# The reference server: built in a Rust image, run from a small Debian one as a non-root user.
# See docs/deploy.md. Nothing at build time needs Node.js: the web pages' assets are vendored.

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p ticketing-http --bin ticketing-server \
    && cp target/release/ticketing-server /usr/local/bin/ticketing-server

FROM debian:bookworm-slim
# curl answers the health check; ca-certificates lets the server reach SMTP, SMS, payment and
# webhook endpoints over TLS.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --home-dir /var/lib/ticketing --create-home ticketing
COPY --from=build /usr/local/bin/ticketing-server /usr/local/bin/ticketing-server
USER 10001:10001
ENV TICKETING_LISTEN=0.0.0.0:8080 \
    TICKETING_DATA_DIR=/var/lib/ticketing
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["curl", "-fsS", "http://127.0.0.1:8080/health/live"]
ENTRYPOINT ["ticketing-server"]
CMD ["serve"]
