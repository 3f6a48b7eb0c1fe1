"""OpenAPI post-processing: document errors as the API really sends them.

drf-standardized-errors documents its own error format as application/json; api.errors
reshapes every error into RFC 9457 application/problem+json. This hook makes the schema say
so (one `Problem` component), and lists the statuses every operation can answer whatever its
view says: role checks inside views (403), conflicts and idempotency refusals on writes
(409, 422), oversized bodies (413) and load shedding (503). Schemathesis checks responses
against this (tests/badinput/test_schemathesis.py).
"""

from __future__ import annotations

from typing import Any

PROBLEM_MEDIA_TYPE = "application/problem+json"
SCHEMA_REF = "#/components/schemas/"

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details; `code` is the machine-readable reason.",
    "required": ["type", "title", "status", "detail", "code", "errors"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "code": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["code", "detail", "attr"],
                "properties": {
                    "code": {"type": "string"},
                    "detail": {"type": "string"},
                    "attr": {"type": "string", "nullable": True},
                },
            },
        },
        "request_id": {"type": "string"},
    },
}

DESCRIPTIONS = {
    "400": "Invalid request (validation_error, parse_error, ...).",
    "401": "Not authenticated, or the token is not valid.",
    "403": "Authenticated, but this role may not do this.",
    "404": "No such object for you (other clinics' objects included).",
    "405": "Method not allowed.",
    "406": "Not acceptable.",
    "409": "Conflicts with the current state (client_id_reused, a finished alert, ...).",
    "413": "The request body is too large.",
    "415": "Unsupported media type.",
    "422": "Idempotency-Key misuse.",
    "429": "Throttled or locked out.",
    "500": "Server error.",
    "503": "Overloaded or the database briefly unavailable: retry after the Retry-After delay.",
}
EVERY_OPERATION = ("400", "401", "403", "404", "405", "406", "415", "429", "500", "503")
WRITES = ("409", "413", "422")
UNAUTHENTICATED_PATHS = ("/api/v1/auth/activate/",)


def _problem_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def _refs(node: Any) -> set[str]:
    """Names of the component schemas that `node` refers to."""
    found: set[str] = set()
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            ref = item.get("$ref")
            if isinstance(ref, str) and ref.startswith(SCHEMA_REF):
                found.add(ref.removeprefix(SCHEMA_REF))
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def problem_details_hook(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = PROBLEM_SCHEMA
    for path, item in result.get("paths", {}).items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            codes = [*EVERY_OPERATION]
            if "requestBody" in operation or method in ("post", "put", "patch"):
                codes += WRITES
            if path in UNAUTHENTICATED_PATHS:
                codes.remove("401")
            for code in codes:
                responses.setdefault(code, {})
            for code in list(responses):
                if code[0] in "45":
                    described = responses[code].get("description") or DESCRIPTIONS.get(code)
                    responses[code] = _problem_response(described or "Error.")
    # Drop the error components nothing refers to any more.
    reachable: set[str] = set()
    pending = _refs(result.get("paths", {}))
    while pending:
        name = pending.pop()
        if name in reachable or name not in schemas:
            continue
        reachable.add(name)
        pending |= _refs(schemas[name])
    for name in list(schemas):
        if name not in reachable:
            del schemas[name]
    return result
