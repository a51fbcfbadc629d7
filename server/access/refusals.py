"""Every way a request is refused, each with its HTTP status and a sentence saying what to fix.

One table from refusal to status: the web layer turns any Refused into a JSON response, so the
upload and job logic stays free of HTTP.
"""

from __future__ import annotations

from ingest.errors import RegionGISError


class Refused(RegionGISError):
    """A bad request; every more particular refusal names its own status and reason in its
    class line, so the classes below read as the table from refusal to status."""

    status = 400
    reason = "bad-request"

    def __init_subclass__(cls, *, status: int, reason: str) -> None:
        super().__init_subclass__()
        cls.status, cls.reason = status, reason

    def headers(self) -> dict[str, str]:
        return {}


class Unauthorized(Refused, status=401, reason="unauthorized"):
    """No token, or one that is unknown, wrong, expired or revoked (RFC 6750)."""

    def headers(self) -> dict[str, str]:
        description = str(self).replace('"', "'")
        return {
            "WWW-Authenticate": (
                f'Bearer realm="regiongis", error="invalid_token", '
                f'error_description="{description}"'
            )
        }


class Forbidden(Refused, status=403, reason="forbidden"): ...


class NotFound(Refused, status=404, reason="not-found"): ...


class TooLarge(Refused, status=413, reason="too-large"): ...


class WrongContent(Refused, status=415, reason="wrong-content"):
    """The file's bytes are not what its name says, or the format is not one we read."""


class UnsafeFile(Refused, status=422, reason="unsafe-file"):
    """A zip escaping its folder, a zip bomb, an XML entity bomb: refused before GDAL sees it."""


class RateLimited(Refused, status=429, reason="rate-limited"):
    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}
