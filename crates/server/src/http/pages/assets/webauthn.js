// Latchkey hosted pages: WebAuthn glue.
//
// For now this file holds only the base64url helpers a WebAuthn ceremony needs and a stub
// hook. It is filled by the WebAuthn work: the passkey sign-in button on /login
// (`[data-webauthn="signin"]`) and the "Passkeys and security keys" section of
// /account/security (`[data-webauthn="register"]`) are wired here, against the /v1 WebAuthn
// endpoints. Nothing here runs a ceremony yet, and the pages work without this script.
"use strict";

(function () {
  /** ArrayBuffer or view -> base64url without padding (RFC 4648 §5). */
  function toBase64url(buffer) {
    const bytes = buffer instanceof ArrayBuffer ? new Uint8Array(buffer)
      : new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    let binary = "";
    for (let i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]);
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  /** base64url (padded or not) -> ArrayBuffer; throws on characters outside the alphabet. */
  function fromBase64url(text) {
    if (!/^[A-Za-z0-9_-]*=*$/.test(text)) throw new Error("not base64url");
    const b64 = text.replace(/=+$/, "").replace(/-/g, "+").replace(/_/g, "/");
    const padded = b64 + "===".slice((b64.length + 3) % 4);
    const binary = atob(padded);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes.buffer;
  }

  /**
   * The hook the WebAuthn work fills: find the elements marked `data-webauthn` and wire
   * them to a ceremony. Today it does nothing, so the buttons stay as the server rendered
   * them (disabled, with a note saying passkeys are not available yet).
   */
  function wire(root) {
    void root;
  }

  window.latchkeyWebauthn = { toBase64url: toBase64url, fromBase64url: fromBase64url, wire: wire };
  document.addEventListener("DOMContentLoaded", function () { wire(document); });
})();
