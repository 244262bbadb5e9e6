"""Auth0's Python SDK (PyPI auth0-python, its ManagementClient, unmodified) against
Latchkey's Management API v2. The SDK validates every response with pydantic, so a field it
requires that Latchkey left out fails here. Env: LATCHKEY_DOMAIN (host:port),
LATCHKEY_CLIENT_ID, LATCHKEY_CLIENT_SECRET, LATCHKEY_USER_ID; SSL_CERT_FILE trusts the test CA.
"""

import os
import re
import sys

from auth0.management import ManagementClient
from auth0.management.core.api_error import ApiError


def env(name):
    value = os.environ.get(name)
    if not value:
        raise SystemExit(f"{name} is not set")
    return value


def step(name):
    print(f"- {name}", flush=True)


def expect_error(status, code, call, *args, **kwargs):
    try:
        call(*args, **kwargs)
    except ApiError as e:
        assert e.status_code == status, (e.status_code, e.body)
        assert e.body["errorCode"] == code, e.body
        assert e.body["statusCode"] == status, e.body
        return
    raise AssertionError(f"expected {status} {code}")


client = ManagementClient(
    domain=env("LATCHKEY_DOMAIN"),
    client_id=env("LATCHKEY_CLIENT_ID"),
    client_secret=env("LATCHKEY_CLIENT_SECRET"),
)
user_id = "auth0|" + env("LATCHKEY_USER_ID")

step("guardian factors")
factors = client.guardian.factors.list()
assert sorted(f.name for f in factors) == sorted(
    ["sms", "push-notification", "otp", "email", "duo", "webauthn-roaming", "webauthn-platform", "recovery-code"]
), factors
assert client.guardian.factors.set("otp", enabled=True).enabled is True
assert client.guardian.factors.set("sms", enabled=False).enabled is False
assert not next(f for f in client.guardian.factors.list() if f.name == "sms").enabled
assert client.guardian.factors.set("sms", enabled=True).enabled is True
expect_error(400, "unsupported_factor", client.guardian.factors.set, "duo", enabled=True)

step("guardian policies")
assert list(client.guardian.policies.set(request=["all-applications"])) == ["all-applications"]
assert list(client.guardian.policies.list()) == ["all-applications"]
assert list(client.guardian.policies.set(request=[])) == []

step("sms provider")
sid = "AC0123456789abcdef0123456789abcdef"
assert client.guardian.factors.sms.set_provider(provider="twilio").provider == "twilio"
twilio = client.guardian.factors.sms.set_twilio_provider(sid=sid, auth_token="py-auth-token", from_="+15551234567")
assert twilio.sid == sid and twilio.from_ == "+15551234567", twilio
assert "py-auth-token" not in repr(twilio)
assert client.guardian.factors.sms.get_twilio_provider().sid == sid
assert client.guardian.factors.sms.get_selected_provider().provider == "twilio"
assert client.guardian.factors.sms.set_provider(provider="auth0").provider == "auth0"

step("sms templates")
templates = client.guardian.factors.sms.set_templates(
    enrollment_message="{{code}} enrolls you at {{tenant.friendly_name}}",
    verification_message="{{code}} is your code",
)
assert templates.verification_message == "{{code}} is your code", templates
assert client.guardian.factors.sms.get_templates().enrollment_message.startswith("{{code}} enrolls")

step("authentication methods")
created = client.users.authentication_methods.create(id=user_id, type="phone", phone_number="+14155552671")
assert created.type == "phone", created
client.users.authentication_methods.create(id=user_id, type="email")
pager = client.users.authentication_methods.list(id=user_id, page=0, per_page=1, include_totals=True)
methods = list(pager)
assert len(methods) == 2, methods
for m in methods:
    assert m.confirmed is False
    assert m.created_at.year >= 2024
one = client.users.authentication_methods.get(id=user_id, authentication_method_id=created.id)
assert re.fullmatch(r"\+1\*+2671", one.phone_number or ""), one
enrollments = client.users.enrollments.get(id=user_id)
assert {e.status for e in enrollments} == {"pending"}, enrollments
client.users.authentication_methods.delete(id=user_id, authentication_method_id=created.id)
expect_error(
    404, "authentication_method_not_found", client.users.authentication_methods.get, id=user_id,
    authentication_method_id=created.id,
)
client.users.authenticators.delete_all(id=user_id)
assert list(client.users.authentication_methods.list(id=user_id)) == []

step("errors")
expect_error(404, "inexistent_user", client.users.enrollments.get, id="auth0|nobody")

print("compat script passed")
sys.exit(0)
