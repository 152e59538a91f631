# Multi-stage build of chat-server: compile with the Rust toolchain, run on a slim Debian.
# Docker cannot run on this project's development machines (no engine there), so this file is
# kept minimal and conventional rather than tested: `docker build -t chat-server .`
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock rustfmt.toml ./
COPY src ./src
COPY tests ./tests
# The workspace's other member: Cargo must read it to load the workspace (it is not built).
COPY bench ./bench
RUN cargo build --release --locked --bin chat-server

FROM debian:bookworm-slim
RUN useradd --system --uid 10001 chat
COPY --from=build /src/target/release/chat-server /usr/local/bin/chat-server
USER chat
# Listen on every interface inside the container; the rest is configured by environment
# variables (see .env.example).
ENV HOST=0.0.0.0 PORT=8000
EXPOSE 8000
STOPSIGNAL SIGTERM
CMD ["chat-server"]
