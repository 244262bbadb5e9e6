"""Schemathesis hooks for scripts/fuzz-api.sh: Latchkey's own response checks, and real ids.

Loaded through SCHEMATHESIS_HOOKS. Everything here reads its inputs from the environment the
script sets (FUZZ_*: the server refuses unknown LATCHKEY_* variables), so the file holds no secret.
"""

import json
import os
import re

import schemathesis
from hypothesis import strategies as st

SECRET_KEY = os.environ.get("FUZZ_SECRET_KEY", "")
REAL_IDS = {
    "user_id": os.environ.get("FUZZ_USER_ID", ""),
    "tenant_id": os.environ.get("FUZZ_TENANT_ID", ""),
    "factor_id": os.environ.get("FUZZ_FACTOR_ID", ""),
    # nauth's device routes name a factor `{id}`.
    "id": os.environ.get("FUZZ_FACTOR_ID", ""),
    "application_id": os.environ.get("FUZZ_APPLICATION_ID", ""),
}
SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")


def _serialise_ast_parse():
    """Let one thread at a time build a Python AST.

    Hypothesis describes a filter's lambda by parsing the source file it comes from (once per
    thread: its cache is thread-local), and with `--workers 2` two workers can do so at the same
    moment. CPython 3.11's AST constructor keeps its recursion counter in state shared by all
    threads, so two parses at once can fail with "SystemError: AST constructor recursion depth
    mismatch" (cpython gh-106905), which aborts the operation being generated. A lock around
    `ast.parse` (re-entrant, in case a parse is ever nested) removes the overlap; it costs a few
    parses run one after the other.
    """
    import ast
    import threading

    parse, lock = ast.parse, threading.RLock()

    def locked_parse(*args, **kwargs):
        with lock:
            return parse(*args, **kwargs)

    ast.parse = locked_parse


_serialise_ast_parse()


def _json_body(response):
    content_type = response.headers.get("Content-Type") or response.headers.get("content-type") or []
    if isinstance(content_type, list):
        content_type = content_type[0] if content_type else ""
    if not content_type.split(";")[0].strip().lower() == "application/json":
        raise AssertionError(f"{response.status_code} with Content-Type {content_type!r}, not application/json")
    try:
        return json.loads(response.content)
    except ValueError as e:
        raise AssertionError(f"{response.status_code} body is not JSON: {e}") from None


def _oauth_error(response, path):
    """The OpenID Connect endpoints answer as RFC 6749 §5.2 and RFC 6750 §3 shape errors:
    {"error": registered_code, "error_description": text}; a request to /userinfo without
    credentials gets a bare 401 with a Bearer challenge (RFC 6750 §3.1: no error code)."""
    if path == "/userinfo" and response.status_code == 401 and not response.content:
        challenge = response.headers.get("WWW-Authenticate") or response.headers.get("www-authenticate")
        if isinstance(challenge, list):
            challenge = challenge[0] if challenge else None
        if not challenge or not str(challenge).startswith("Bearer"):
            raise AssertionError("401 from /userinfo without a Bearer challenge")
        return None
    body = _json_body(response)
    if not isinstance(body, dict) or not isinstance(body.get("error"), str) or not SNAKE.match(body["error"]):
        raise AssertionError(f"{response.status_code} without an OAuth error: {body!r}"[:300])
    if not isinstance(body.get("error_description"), str) or not body["error_description"]:
        raise AssertionError(f"{response.status_code} OAuth error without error_description: {body!r}"[:300])
    return None


UPPER = re.compile(r"^[A-Z][A-Z0-9_]{0,99}$")


def _nauth_error(response):
    """The nauth-toolkit surface (/auth/*) answers errors as nauth's ErrorResponseDTO:
    {"statusCode": status, "code": UPPER_SNAKE, "message": text, "details"?: {...}, "timestamp": ISO 8601}."""
    body = _json_body(response)
    if not isinstance(body, dict) or body.get("statusCode") != response.status_code:
        raise AssertionError(f"{response.status_code} without nauth's error shape: {body!r}"[:300])
    code, message = body.get("code"), body.get("message")
    if not isinstance(code, str) or not UPPER.match(code):
        raise AssertionError(f"nauth code is not an upper-case name: {code!r}")
    if not isinstance(message, str) or not message:
        raise AssertionError(f"nauth error without a message ({code})")
    if not isinstance(body.get("timestamp"), str) or not body["timestamp"]:
        raise AssertionError(f"nauth error without a timestamp ({code})")
    if "details" in body and not isinstance(body["details"], dict):
        raise AssertionError(f"nauth error details is not an object ({code})")
    return None


def _auth0_error(response):
    """Auth0's Management API (/api/v2) answers every failure, a wrong method included, as Auth0
    does: {"statusCode": the status, "error": its reason phrase, "message", "errorCode"}."""
    body = _json_body(response)
    if not isinstance(body, dict) or body.get("statusCode") != response.status_code:
        raise AssertionError(f"{response.status_code} without Auth0's error shape: {body!r}"[:300])
    for field in ("error", "message", "errorCode"):
        if not isinstance(body.get(field), str) or not body[field]:
            raise AssertionError(f"{response.status_code} Auth0 error without {field}: {body!r}"[:300])
    if not SNAKE.match(body["errorCode"]):
        raise AssertionError(f"errorCode is not snake_case: {body['errorCode']!r}")
    return None


@schemathesis.check
def latchkey_json_envelope(ctx, response, case):
    """Every response with a body is JSON; every 4xx/5xx is {"error":{"code","message","request_id"}}
    (Auth0's shape under /api/v2, `_auth0_error`).

    The code is snake_case (a stable, machine-readable name) and the request id is the one in
    the X-Request-Id header, so an operator can find the log line. The OpenID Connect
    endpoints and Auth0's MFA API answer errors as their RFCs shape them instead (`_oauth_error`),
    and the nauth-toolkit routes as nauth does (`_nauth_error`).
    """
    if response.status_code == 204 or (not response.content and response.status_code < 400):
        return None
    path = case.operation.path
    if path.startswith("/api/v2/"):
        return _auth0_error(response) if response.status_code >= 400 else (_json_body(response) and None)
    # A method a route does not serve (405) answers as /v1 does, as for every other surface.
    # Auth0's MFA API (/mfa/*) answers as the token endpoint does.
    oauth = path.startswith(("/oauth/", "/mfa/")) or path == "/userinfo"
    if response.status_code >= 400 and response.status_code != 405 and oauth:
        return _oauth_error(response, path)
    if response.status_code >= 400 and response.status_code != 405 and path.startswith("/auth/"):
        return _nauth_error(response)
    body = _json_body(response)
    if response.status_code < 400:
        return None
    if not isinstance(body, dict) or not isinstance(body.get("error"), dict):
        raise AssertionError(f"{response.status_code} without the error envelope: {body!r}"[:300])
    err = body["error"]
    code, message, request_id = err.get("code"), err.get("message"), err.get("request_id")
    if not isinstance(code, str) or not SNAKE.match(code):
        raise AssertionError(f"error.code is not a snake_case string: {code!r}")
    if not isinstance(message, str) or not message:
        raise AssertionError(f"error.message is missing or empty ({code})")
    if not isinstance(request_id, str) or not request_id:
        raise AssertionError(f"error.request_id is missing ({code})")
    header = response.headers.get("X-Request-Id") or response.headers.get("x-request-id")
    if isinstance(header, list):
        header = header[0] if header else None
    if header != request_id:
        raise AssertionError(f"X-Request-Id {header!r} differs from error.request_id {request_id!r}")
    return None


@schemathesis.check
def latchkey_no_secret_echo(ctx, response, case):
    """No response quotes the tenant's secret key (it is shown once, at bootstrap, never again)."""
    if SECRET_KEY and SECRET_KEY.encode() in (response.content or b""):
        raise AssertionError(f"{response.status_code} response body contains the secret key")
    return None


@schemathesis.hook
def flatmap_path_parameters(ctx, path_parameters):
    """Half the time, put a real user, tenant, factor or application id in the path, so the fuzzer reaches
    past the 404/403 of an unknown id into the handlers' own validation."""
    if not path_parameters:
        return st.just(path_parameters)
    real = dict(path_parameters)
    for name in path_parameters:
        if REAL_IDS.get(name):
            real[name] = REAL_IDS[name]
    if real == path_parameters:
        return st.just(path_parameters)
    return st.sampled_from([path_parameters, real])


@schemathesis.hook
def map_body(ctx, body):
    """Keep MFA optional for the tenant. The fuzzer gets its access tokens by signing in the fuzz
    user (schemathesis.toml); a generated `"mfa_required": true` would turn every later sign-in
    into `mfa_setup_required` and stop the run with authentication errors. What MFA enforcement
    does is covered by crates/server/tests/api/mfa.rs; everything else in these bodies is fuzzed."""
    op = ctx.operation
    if op is not None and op.method.upper() == "PATCH" and isinstance(body, dict) and body.get("mfa_required") is True:
        body = {**body, "mfa_required": False}
    # The same switch in nauth's names (/auth/admin/mfa-config); ADAPTIVE could refuse the
    # fuzz user's sign-ins as risky.
    if op is not None and op.method.upper() == "PATCH" and isinstance(body, dict) and body.get("enforcement") in ("REQUIRED", "ADAPTIVE"):
        body = {**body, "enforcement": "OPTIONAL"}
    # Other ways to ask the fuzz user for a second factor: a rule (the user's, a role's, an
    # application's) or a tenant minimum above aal1, and adaptive MFA (its risk score could
    # refuse the fuzzer's sign-ins).
    if op is not None and isinstance(body, dict) and op.method.upper() in ("PUT", "PATCH"):
        if body.get("mfa") == "required":
            body = {k: v for k, v in body.items() if k != "mfa"}
        for key in ("min_assurance", "mfa_min_assurance"):
            if body.get(key) not in (None, "aal1"):
                body = {k: v for k, v in body.items() if k != key}
        if op.path == "/v1/admin/config" and "adaptive" in body:
            body = {k: v for k, v in body.items() if k != "adaptive"}
    # Auth0's policy route says the same in its words.
    if (
        op is not None
        and op.path == "/api/v2/guardian/policies"
        and isinstance(body, list)
        and ("all-applications" in body or "confidence-score" in body)
    ):
        # "confidence-score" turns adaptive MFA on, which could refuse the fuzz user's
        # sign-ins from the fuzzer's address as risky.
        body = [p for p in body if p not in ("all-applications", "confidence-score")]
    # An admin may vouch for a phone (`"confirmed": true`): with the fuzz user's id in the path
    # that gives the fuzz user an active SMS factor, and every later sign-in answers
    # mfa_required instead of tokens. Pending phones are fuzzed all the same.
    if (
        op is not None
        and op.path == "/api/v2/users/{user_id}/authentication-methods"
        and op.method.upper() == "POST"
        and isinstance(body, dict)
        and body.get("confirmed") is True
    ):
        body = {**body, "confirmed": False}
    return body
