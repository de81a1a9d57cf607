"""Classifying AWS errors into the one hierarchy: retry it, park it, or stop for an operator."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

from auditbridge.errors import AuditBridgeError, ConfigurationError, PermanentError, RetriableError

#: Codes every AWS service uses for "too fast": always worth another try.
THROTTLING_ERRORS = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "SlowDown",
        "ProvisionedThroughputExceededException",
        "RequestThrottled",
        "ServiceUnavailableException",
        "InternalFailure",
        "InternalServerError",
    }
)
#: Codes every AWS service uses for credentials and permissions.
CREDENTIAL_ERRORS = {
    "AccessDeniedException": "the role lacks the permission this destination needs",
    "AccessDenied": "the role lacks the permission this destination needs",
    "UnrecognizedClientException": "the AWS credentials are not valid",
    "InvalidSignatureException": "the AWS credentials are not valid",
    "ExpiredTokenException": "the AWS credentials have expired",
}


def classify_client_error(exc: Any, *, operation: str, configuration: Mapping[str, str], hint: str) -> AuditBridgeError:
    """A botocore ``ClientError`` as retriable (throttling, 5xx), configuration, or permanent."""
    error = exc.response.get("Error", {})
    code = str(error.get("Code", "Unknown"))
    message = error.get("Message", "") or str(exc)
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    known = {**CREDENTIAL_ERRORS, **configuration}
    if code in known:
        return ConfigurationError(f"{operation} was refused: {known[code]} ({message})", code=code, hint=hint)
    if code in THROTTLING_ERRORS or status == 429 or status >= 500:
        return RetriableError(f"{operation} failed with HTTP {status}: {message}", code=code)
    return PermanentError(f"{operation} rejected the request: {message}", code=code)


def classify_botocore_error(exc: Exception, *, service: str) -> AuditBridgeError:
    """A botocore error that is not an answer: credentials, network, parameters."""
    from botocore.exceptions import (
        ConnectionError as BotoConnectionError,
    )
    from botocore.exceptions import (
        HTTPClientError,
        NoCredentialsError,
        NoRegionError,
        ParamValidationError,
        PartialCredentialsError,
    )

    if isinstance(exc, NoRegionError):
        return ConfigurationError(
            f"no AWS Region for {service}", code="NoRegion", hint="set AWS_REGION, or give region= in the address"
        )
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return ConfigurationError(
            "no AWS credentials were found",
            code="NoCredentials",
            hint="configure the function role or AWS_* credentials",
        )
    if isinstance(exc, BotoConnectionError | HTTPClientError):
        return RetriableError(f"network error talking to {service}: {exc}", code="NetworkError")
    if isinstance(exc, ParamValidationError):
        return PermanentError(f"botocore refused the request: {exc}", code="ParamValidation")
    return RetriableError(f"unexpected botocore error: {type(exc).__name__}: {exc}", code="BotocoreError")


@contextlib.contextmanager
def classified(*, operation: str, service: str, configuration: Mapping[str, str], hint: str) -> Iterator[None]:
    """Inside the block, botocore's errors become the hierarchy's (see the two functions above)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except ClientError as exc:
        raise classify_client_error(exc, operation=operation, configuration=configuration, hint=hint) from exc
    except BotoCoreError as exc:
        raise classify_botocore_error(exc, service=service) from exc
