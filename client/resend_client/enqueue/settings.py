"""The command's settings that come from the AWS configuration as much as from flags.

``--output`` falls back to ``AWS_DEFAULT_OUTPUT``, then to the profile's ``output`` in the config
file, then to json, as in the AWS CLI. Connection settings (TLS, timeouts) and ``--debug``
become the client's options here, so the command and the library agree on their meaning.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
from typing import Any

from resend_client.connection import DEFAULT_CONNECT_TIMEOUT, DEFAULT_READ_TIMEOUT
from resend_client.enqueue.exits import ConfigurationError
from resend_client.enqueue.output import FORMATS

# botocore's rule for region names.
_REGION = re.compile(r"[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?")


def output_format(args: argparse.Namespace) -> str:
    """Raises ``ConfigurationError`` for a setting that names no known format, or no profile."""
    if args.output:
        return str(args.output)
    source = "AWS_DEFAULT_OUTPUT"
    configured = os.environ.get("AWS_DEFAULT_OUTPUT") or None
    if configured is None:
        source = "the profile's output setting"
        configured = _profile_setting(args.profile, "output")
    if configured is None:
        return "json"
    if configured not in FORMATS:
        raise ConfigurationError(f"{source} is not one of {', '.join(FORMATS)}")
    return str(configured)


def _profile_setting(profile: str | None, name: str) -> str | None:
    import botocore.session
    from botocore.exceptions import ProfileNotFound

    session = botocore.session.Session(profile=profile)
    try:
        value = session.get_scoped_config().get(name)
    except ProfileNotFound:
        raise ConfigurationError(
            "the config profile could not be found (--profile, AWS_PROFILE)"
        ) from None
    return str(value) if value else None


def client_options(args: argparse.Namespace, problems: list[str]) -> dict[str, Any]:
    """``ResendClient`` keyword arguments for the connection flags; bad values go to problems."""
    if args.region is not None and not _REGION.fullmatch(args.region):
        problems.append("argument --region: not a valid region name")
    verify: bool | str | None = None
    if args.no_verify_ssl:
        verify = False
    elif args.ca_bundle is not None:
        path = os.path.expandvars(os.path.expanduser(args.ca_bundle))
        if not os.path.isfile(path) or not os.access(path, os.R_OK):
            problems.append("argument --ca-bundle: cannot read the file")
        verify = path
    return {
        "region": args.region,
        "endpoint_url": args.endpoint_url,
        "profile": args.profile,
        "verify": verify,
        "connect_timeout": (
            DEFAULT_CONNECT_TIMEOUT
            if args.cli_connect_timeout is None
            else float(args.cli_connect_timeout)
        ),
        "read_timeout": (
            DEFAULT_READ_TIMEOUT if args.cli_read_timeout is None else float(args.cli_read_timeout)
        ),
    }


def global_problems(args: argparse.Namespace) -> list[str]:
    if args.no_sign_request:
        return [
            "argument --no-sign-request: SQS takes signed requests only; "
            "give credentials (a profile, AWS_* variables or a role) instead"
        ]
    return []


def start_debug_log(args: argparse.Namespace) -> None:
    """``--debug``: the client's own log on stderr; the SDK's stays off, as it logs bodies."""
    if not args.debug:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
    logger = logging.getLogger("resend_client")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
