# syntax=docker/dockerfile:1
#
# resend-worker image. Two stages: the build stage installs the locked dependencies and the
# package into a virtual environment; the runtime stage copies only that environment, so no
# build tool, pip cache or source tree ships. Both stages use the same base image, so the
# venv's interpreter path (/usr/local/bin/python3.11) exists in the runtime stage too.
#
# Build:   docker build -t resend-worker:0.1.0 --build-arg VERSION=0.1.0 \
#            --build-arg REVISION="$(git rev-parse HEAD)" .
# The base is pinned by version; pin it by digest as well at release time
# (python:3.11.17-slim-bookworm@sha256:...), see deploy/README.md.

FROM python:3.11.17-slim-bookworm AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_INPUT=1 \
    VIRTUAL_ENV=/opt/venv

WORKDIR /src

RUN python -m venv "$VIRTUAL_ENV"

# Dependencies first, from the hash-pinned lock, so this layer is reused until the lock changes.
# --no-deps: the lock is the complete set; nothing unpinned may slip in.
COPY requirements.lock ./
RUN "$VIRTUAL_ENV/bin/pip" install --no-deps --require-hashes --requirement requirements.lock

# The service and the message contract it shares with producers, without dependencies and with
# the locked setuptools as their build backend; `pip check` fails the build if the lock no longer
# covers what they declare. setuptools is only a build tool, so it leaves the environment
# afterwards. The producer client and the local stack are not part of the image.
COPY pyproject.toml README.md ./
COPY contract ./contract
COPY worker ./worker
RUN "$VIRTUAL_ENV/bin/pip" install --no-deps --no-build-isolation ./contract . \
    && "$VIRTUAL_ENV/bin/pip" check \
    && "$VIRTUAL_ENV/bin/pip" uninstall --yes setuptools


FROM python:3.11.17-slim-bookworm

ARG VERSION=0.1.0
ARG REVISION=unknown

LABEL org.opencontainers.image.title="resend-worker" \
      org.opencontainers.image.description="Drains an SQS queue of Cognito ResendConfirmationCode requests and publishes one result per request to SNS." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="docker.io/library/python:3.11.17-slim-bookworm"

# A fixed numeric UID/GID: Kubernetes' runAsNonRoot can only verify a numeric USER, and the
# manifests and the ECS task definition name the same ids.
RUN groupadd --system --gid 10001 resend \
    && useradd --system --uid 10001 --gid 10001 --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin resend

# The root filesystem may be mounted read-only: bytecode was compiled at install time and is
# never written at run time, logs go to stdout, and anything temporary goes to /tmp (a volume).
ENV VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    TMPDIR=/tmp

COPY --from=build /opt/venv /opt/venv

USER 10001:10001

# /metrics, /healthz and /readyz (RESEND_METRICS_PORT).
EXPOSE 9102

# For plain `docker run` and compose. Kubernetes ignores it (the Deployment has its own probes)
# and ECS uses the task definition's healthCheck, which runs the same command. The slim image
# has no curl, hence Python; a non-2xx answer or no answer raises, which exits 1.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('RESEND_METRICS_PORT', '9102') + '/healthz', timeout=3)"]

# Exec form: the worker is PID 1 and receives SIGTERM itself, then drains within
# RESEND_SHUTDOWN_TIMEOUT_SECONDS.
STOPSIGNAL SIGTERM
ENTRYPOINT ["resend-worker"]
CMD ["run"]
