# Builds the pingyi binary with nothing but the Rust toolchain and a C compiler
# (SQLite, libpq and OpenSSL are bundled), then runs it on a slim image.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked && strip target/release/pingyi

FROM debian:bookworm-slim
RUN useradd --system --home /var/lib/pingyi pingyi && mkdir -p /var/lib/pingyi && chown pingyi /var/lib/pingyi
COPY --from=build /src/target/release/pingyi /usr/local/bin/pingyi
USER pingyi
WORKDIR /var/lib/pingyi
ENV PINGYI_BIND=0.0.0.0:8080
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/pingyi"]
CMD ["serve"]
