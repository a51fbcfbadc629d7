"""OGC API exceptions: what the client sent wrong, as {"code", "description"} with a status."""

from __future__ import annotations

from starlette.responses import JSONResponse


class OGCError(Exception):
    """A request we refuse; the description says what is allowed instead."""

    def __init__(
        self, description: str, status: int = 400, code: str = "InvalidParameterValue"
    ) -> None:
        super().__init__(description)
        self.description = description
        self.status = status
        self.code = code

    def response(self) -> JSONResponse:
        return JSONResponse(
            {"code": self.code, "description": self.description},
            status_code=self.status,
            headers={"Access-Control-Allow-Origin": "*"},
        )


def not_found(description: str) -> OGCError:
    return OGCError(description, status=404, code="NotFound")
