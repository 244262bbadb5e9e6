// Prepares a fresh Latchkey for the SDK scripts, through its own APIs: allows every factor,
// registers a confidential application granted the management scopes (the secret key given
// here has `mfa:admin`, which granting the weakening ones needs), and signs a user up.
// Prints one JSON line: {"client_id","client_secret","user_id","user_email"}.
// Reads LATCHKEY_DOMAIN (host:port) and LATCHKEY_SECRET_KEY; trusts the test CA through
// NODE_EXTRA_CA_CERTS.

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set`);
  return v;
};
const base = `https://${env("LATCHKEY_DOMAIN")}`;
const key = env("LATCHKEY_SECRET_KEY");

async function call(method, path, body, auth = key) {
  const r = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${auth}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

await call("PATCH", "/v1/admin/config", {
  mfa_allowed_factors: ["totp", "sms", "email_otp", "webauthn", "backup_codes"],
});
const app = await call("POST", "/v1/admin/applications", {
  name: "Auth0 SDK compatibility",
  type: "confidential",
  grant_types: ["client_credentials"],
  audience: `${base}/api/v2/`,
  scopes: [
    "read:guardian_factors",
    "update:guardian_factors",
    "read:mfa_policies",
    "update:mfa_policies",
    "read:authentication_methods",
    "create:authentication_methods",
    "update:authentication_methods",
    "delete:authentication_methods",
    "read:users",
    "read:guardian_enrollments",
    "delete:guardian_enrollments",
  ],
});
const email = `sdk-${Date.now()}@example.com`;
const r = await fetch(`${base}/v1/auth/signup`, {
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ email, password: "correct horse battery staple" }),
});
if (r.status !== 201) throw new Error(`signup: ${r.status} ${await r.text()}`);
const user = (await r.json()).user;
console.log(
  JSON.stringify({ client_id: app.client_id, client_secret: app.client_secret, user_id: user.id, user_email: email }),
);
