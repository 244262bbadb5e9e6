// Submits the authorization response to the application at once
// (response_mode=form_post); without script the page's button does it.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const form = document.querySelector("form[data-autosubmit]");
  if (form) form.submit();
});
