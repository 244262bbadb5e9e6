"""Auth0's Python SDK (PyPI auth0-python, unmodified) on Auth0's MFA API against Latchkey:
GetToken.login (the password-realm grant) signs in a user without a second factor, and for
a user with one raises Auth0Error `mfa_required` carrying the `mfa_token`; the SDK's own
authenticated POSTs then make the /mfa/challenge call and the mfa-otp grant (the SDK has no
named method for them). The ID tokens are checked against the JWKS with PyJWT (the SDK's own
dependency): the SDK's TokenVerifier cannot read a key set holding EC and Ed25519 keys beside
the RSA ones (it parses every key as RSA), as Latchkey's does (docs/compat.md).
Env: LATCHKEY_DOMAIN (host:port), LATCHKEY_ISSUER, LATCHKEY_SECRET_KEY (for the set-up
through /v1); SSL_CERT_FILE / REQUESTS_CA_BUNDLE trust the test CA.
"""

import base64
import hashlib
import hmac
import json
import os
import struct
import time
import urllib.request
import uuid

from auth0.authentication import GetToken
import jwt
from auth0.authentication.exceptions import Auth0Error

DOMAIN = os.environ["LATCHKEY_DOMAIN"]
ISSUER = os.environ["LATCHKEY_ISSUER"]
KEY = os.environ["LATCHKEY_SECRET_KEY"]
BASE = f"https://{DOMAIN}"
PASSWORD = "correct horse battery staple"
REALM = "Username-Password-Authentication"


def api(method, path, body=None, token=KEY):
    req = urllib.request.Request(
        BASE + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"authorization": f"Bearer {token}", "content-type": "application/json"},
    )
    with urllib.request.urlopen(req) as r:
        text = r.read().decode()
        return json.loads(text) if text else None


def totp(secret, step):
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    h = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    o = h[-1] & 0xF
    return f"{(struct.unpack('>I', h[o:o + 4])[0] & 0x7FFFFFFF) % 1_000_000:06d}"


def step(name):
    print(f"- {name}", flush=True)


app = api("POST", "/v1/admin/applications", {
    "name": "auth0-python",
    "type": "confidential",
    "grant_types": ["password", "http://auth0.com/oauth/grant-type/password-realm",
                    "http://auth0.com/oauth/grant-type/mfa-otp", "refresh_token"],
})
client_id, client_secret = app["client_id"], app["client_secret"]
email = f"py-{uuid.uuid4()}@example.com"
user = api("POST", "/v1/auth/signup", {"email": email, "password": PASSWORD})
tokens = GetToken(DOMAIN, client_id, client_secret=client_secret)
jwks = jwt.PyJWKClient(f"{BASE}/.well-known/jwks.json")


class Verifier:
    def verify(self, token):
        key = jwks.get_signing_key_from_jwt(token)
        return jwt.decode(token, key.key, algorithms=["RS256"], audience=client_id, issuer=ISSUER)


verifier = Verifier()

step("GetToken.login without a second factor: tokens, the ID token verified")
t = tokens.login(email, PASSWORD, realm=REALM, scope="openid email offline_access")
assert t["token_type"] == "Bearer" and t["refresh_token"], t
claims = verifier.verify(t["id_token"])
assert claims["email"] == email and claims["acr"] == "aal1", claims
assert tokens.refresh_token(t["refresh_token"])["access_token"]

step("a wrong password is Auth0Error invalid_grant")
try:
    tokens.login(email, "not the password", realm=REALM)
    raise AssertionError("a wrong password signed in")
except Auth0Error as e:
    assert e.status_code == 400 and e.error_code == "invalid_grant", (e.status_code, e.error_code)

step("an authenticator app, added through /v1 with the user's token")
factor = api("POST", "/v1/users/me/mfa/factors", {"type": "totp"}, token=user["access_token"])
first = int(time.time() // 30)
api("POST", f"/v1/users/me/mfa/factors/{factor['factor_id']}/confirm",
    {"code": totp(factor["secret"], first)}, token=user["access_token"])

step("GetToken.login now raises mfa_required with the mfa_token")
try:
    tokens.login(email, PASSWORD, realm=REALM, scope="openid email")
    raise AssertionError("signed in without the second factor")
except Auth0Error as e:
    assert e.status_code == 403 and e.error_code == "mfa_required", (e.status_code, e.error_code)
    body = e.content if isinstance(e.content, dict) else json.loads(e.content)
    mfa_token = body["mfa_token"]
    assert {"type": "otp"} in body["mfa_requirements"]["challenge"], body

step("/mfa/challenge and the mfa-otp grant through the SDK's authenticated POST")
c = tokens.authenticated_post(f"{BASE}/mfa/challenge", data={
    "client_id": client_id, "mfa_token": mfa_token, "challenge_type": "otp",
})
assert c == {"challenge_type": "otp"}, c
t = tokens.authenticated_post(f"{BASE}/oauth/token", data={
    "client_id": client_id,
    "grant_type": "http://auth0.com/oauth/grant-type/mfa-otp",
    "mfa_token": mfa_token,
    "otp": totp(factor["secret"], first + 1),
})
claims = verifier.verify(t["id_token"])
assert claims["acr"] == "aal2" and "otp" in claims["amr"], claims

print("compat script passed")
