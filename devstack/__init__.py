"""The embedded local AWS stack: moto's server plus the Cognito operation it lacks.

Tests, benchmarks and the demo run the worker against it: ``DevStack`` serves it,
``provision`` fills it, ``DevStackAdmin`` turns the fault knobs from any process.
"""

from devstack.client import AsyncDevStackAdmin, DevStackAdmin, DevStackAdminError, DevUser
from devstack.faults import DAILY_EMAIL_LIMIT, OPERATION_ERRORS, Call, CallStats, Faults
from devstack.provision import DevResources, provision
from devstack.server import DevStack

__all__ = [
    "DAILY_EMAIL_LIMIT",
    "OPERATION_ERRORS",
    "AsyncDevStackAdmin",
    "Call",
    "CallStats",
    "DevResources",
    "DevStack",
    "DevStackAdmin",
    "DevStackAdminError",
    "DevUser",
    "Faults",
    "provision",
]
