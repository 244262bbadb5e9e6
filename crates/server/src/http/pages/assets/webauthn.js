// Latchkey hosted pages: WebAuthn glue.
//
// A ceremony on the pages is a form the server renders (`views::ceremony`):
//
//   <form data-webauthn="get|create" data-options="/…/options" action="/…" method="post">
//     csrf, other fields, <input type="hidden" name="credential">, a submit button,
//     <p data-webauthn-status> for what to say; the words come in data-msg-* attributes.
//
// Submitting it (the button, or Enter in a field) fetches the options (POST, the form's
// own fields and anti-forgery token, answered as JSON), runs navigator.credentials.get()
// or .create(), puts the browser's answer (JSON, base64url without padding) in the hidden
// `credential` field and submits the form for real: the server answers with a page. An
// options answer {"location"} sends the browser there (sign-in lapsed, step-up needed);
// {"message"} is shown. Without this script the form posts an empty credential and the
// server explains what is needed.
//
// A form that also says data-mediation="conditional" (passkey sign-in on /login) offers
// passkeys in the email field's autofill (WebAuthn L3 conditional mediation; the field says
// autocomplete="username webauthn"): where the browser supports it, the options are fetched
// once on load and navigator.credentials.get({mediation: "conditional"}) waits for the user
// to pick a passkey there, which submits the same form. While it waits the form carries
// data-conditional="pending". The form's button aborts that request before starting its own;
// a button ceremony that does not succeed offers the autofill again. The autofill says
// nothing when it fails (nothing was picked, or no passkey fits).
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

  function supported() {
    return typeof window.PublicKeyCredential === "function" && !!navigator.credentials;
  }

  /** Each credential descriptor's id as bytes. */
  function descriptors(list) {
    return (list || []).map(function (c) {
      return Object.assign({}, c, { id: fromBase64url(c.id) });
    });
  }

  /** The server's request options (JSON) as the browser takes them. */
  function requestOptions(json) {
    const PKC = window.PublicKeyCredential;
    if (typeof PKC.parseRequestOptionsFromJSON === "function") {
      return PKC.parseRequestOptionsFromJSON(json);
    }
    const o = Object.assign({}, json, { challenge: fromBase64url(json.challenge) });
    if (json.allowCredentials) o.allowCredentials = descriptors(json.allowCredentials);
    return o;
  }

  /** The server's creation options (JSON) as the browser takes them. */
  function creationOptions(json) {
    const PKC = window.PublicKeyCredential;
    if (typeof PKC.parseCreationOptionsFromJSON === "function") {
      return PKC.parseCreationOptionsFromJSON(json);
    }
    const o = Object.assign({}, json, {
      challenge: fromBase64url(json.challenge),
      user: Object.assign({}, json.user, { id: fromBase64url(json.user.id) }),
    });
    if (json.excludeCredentials) o.excludeCredentials = descriptors(json.excludeCredentials);
    return o;
  }

  /** The browser's answer as JSON (WebAuthn L3 toJSON, or the same shape by hand). */
  function serialise(credential) {
    if (typeof credential.toJSON === "function") return credential.toJSON();
    const r = credential.response;
    const response = { clientDataJSON: toBase64url(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = toBase64url(r.attestationObject);
      if (typeof r.getTransports === "function") response.transports = r.getTransports();
    } else {
      response.authenticatorData = toBase64url(r.authenticatorData);
      response.signature = toBase64url(r.signature);
      if (r.userHandle) response.userHandle = toBase64url(r.userHandle);
    }
    return {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      response: response,
      authenticatorAttachment: credential.authenticatorAttachment || undefined,
      clientExtensionResults: credential.getClientExtensionResults(),
    };
  }

  function say(form, text, isError) {
    const status = form.querySelector("[data-webauthn-status]");
    if (!status) return;
    status.textContent = text;
    status.classList.toggle("error", !!isError);
  }

  async function fetchOptions(form, signal) {
    const fields = new URLSearchParams();
    for (const [name, value] of new FormData(form)) {
      if (name !== "credential" && typeof value === "string") fields.append(name, value);
    }
    const resp = await fetch(form.dataset.options, {
      method: "POST",
      body: fields,
      credentials: "same-origin",
      headers: { accept: "application/json" },
      signal: signal,
    });
    let body = null;
    try {
      body = await resp.json();
    } catch (_) {
      body = null;
    }
    return { ok: resp.ok, body: body };
  }

  /** Puts the browser's answer in the form and submits it for real. */
  function submitAnswer(form, credential, factorId) {
    if (factorId) {
      const factor = form.querySelector("input[name='factor_id']");
      if (factor) factor.value = factorId;
    }
    form.querySelector("input[name='credential']").value = JSON.stringify(serialise(credential));
    form.submit();
  }

  // The pending conditional request of each form, by its AbortController.
  const autofill = new WeakMap();

  async function conditionalAvailable() {
    const PKC = window.PublicKeyCredential;
    if (!supported() || typeof PKC.isConditionalMediationAvailable !== "function") return false;
    try {
      return (await PKC.isConditionalMediationAvailable()) === true;
    } catch (_) {
      return false;
    }
  }

  /** Offers passkeys in the autofill: one conditional request, until picked or aborted. */
  async function offerInAutofill(form) {
    const button = form.querySelector("button[type='submit']");
    // Not while another request of this form waits, nor once the button has started one.
    const busy = function () { return autofill.has(form) || (button && button.disabled); };
    if (busy() || !(await conditionalAvailable()) || busy()) return;
    const controller = new AbortController();
    autofill.set(form, controller);
    try {
      const answer = await fetchOptions(form, controller.signal);
      const body = answer.body || {};
      if (!answer.ok || !body.options || !body.options.publicKey || controller.signal.aborted) return;
      form.dataset.conditional = "pending";
      const credential = await navigator.credentials.get({
        publicKey: requestOptions(body.options.publicKey),
        mediation: "conditional",
        signal: controller.signal,
      });
      if (!credential || controller.signal.aborted) return;
      say(form, form.dataset.msgWaiting, false);
      submitAnswer(form, credential, null);
    } catch (_) {
      // Aborted, nothing picked, or no passkey fits: the autofill says nothing.
    } finally {
      if (autofill.get(form) === controller) {
        autofill.delete(form);
        delete form.dataset.conditional;
      }
    }
  }

  /** Aborts the form's pending conditional request, if any. */
  function stopAutofill(form) {
    const controller = autofill.get(form);
    if (!controller) return;
    autofill.delete(form);
    delete form.dataset.conditional;
    controller.abort();
  }

  async function run(form, button) {
    const msg = form.dataset;
    if (!supported()) {
      say(form, msg.msgUnsupported, true);
      return;
    }
    // One WebAuthn request at a time: the autofill's gives way to the button's.
    stopAutofill(form);
    button.disabled = true;
    if (!(await ceremony(form, msg))) {
      button.disabled = false;
      if (msg.mediation === "conditional") offerInAutofill(form);
    }
  }

  /** The button's ceremony; true once the form is submitted with the browser's answer. */
  async function ceremony(form, msg) {
    say(form, msg.msgWaiting, false);
    try {
      const answer = await fetchOptions(form);
      const body = answer.body || {};
      if (typeof body.location === "string" && body.location.startsWith("/")) {
        window.location.assign(body.location);
        return true;
      }
      if (!answer.ok || !body.options || !body.options.publicKey) {
        say(form, body.message || msg.msgFailed, true);
        return false;
      }
      const publicKey = body.options.publicKey;
      let credential;
      try {
        credential = form.dataset.webauthn === "create"
          ? await navigator.credentials.create({ publicKey: creationOptions(publicKey) })
          : await navigator.credentials.get({ publicKey: requestOptions(publicKey) });
      } catch (err) {
        // NotAllowedError: cancelled, timed out, or no matching credential.
        const cancelled = err && (err.name === "NotAllowedError" || err.name === "AbortError");
        say(form, cancelled ? msg.msgCancelled : msg.msgFailed, true);
        return false;
      }
      if (!credential) {
        say(form, msg.msgCancelled, true);
        return false;
      }
      submitAnswer(form, credential, body.factor_id);
      return true;
    } catch (_) {
      say(form, msg.msgFailed, true);
      return false;
    }
  }

  /** Wires every ceremony form under `root`. */
  function wire(root) {
    root.querySelectorAll("form[data-webauthn]").forEach(function (form) {
      const button = form.querySelector("button[type='submit']");
      if (!button) return;
      if (!supported()) say(form, form.dataset.msgUnsupported, true);
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        if (!button.disabled) run(form, button);
      });
      if (form.dataset.mediation === "conditional") offerInAutofill(form);
    });
  }

  window.latchkeyWebauthn = { toBase64url: toBase64url, fromBase64url: fromBase64url, wire: wire };
  document.addEventListener("DOMContentLoaded", function () { wire(document); });
})();
