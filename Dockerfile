# Fathom images: `runner` (the flow container of ECS task definitions) and `agent`.
#   docker build --target runner -t fathom-runner .
#   docker build --target agent -t fathom-agent .
# The build stage runs the same command as Tests/FathomTests/StaticBinaryTests.swift.

ARG SWIFT_IMAGE=swift:6.3-bookworm

FROM ${SWIFT_IMAGE} AS build
# Unpinned on purpose: Debian stable only ships security fixes, which the image should pick up.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libsqlite3-dev libbz2-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN swift build -c release --static-swift-stdlib --scratch-path .build-static --product fathom \
    && swift build -c release --static-swift-stdlib --scratch-path .build-static --product fathom-examples \
    && install -D -m 0755 .build-static/release/fathom /out/fathom \
    && install -D -m 0755 .build-static/release/fathom-examples /out/fathom-examples

FROM debian:bookworm-slim AS runner
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates libsqlite3-0 libxml2 bzip2 pbzip2 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --uid 1000 --create-home fathom
COPY --from=build /out/fathom /out/fathom-examples /usr/local/bin/
USER 1000
WORKDIR /home/fathom
ENTRYPOINT ["fathom"]
CMD ["--help"]

FROM runner AS agent
CMD ["agent", "--launcher", "ecs"]
