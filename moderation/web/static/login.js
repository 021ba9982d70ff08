/*
 * Login: the password goes to the JSON API (POST /v1/auth/login); the token it returns is handed
 * at once to a page route that stores it in an HttpOnly cookie, so no script can read it later.
 */
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("login-form");
  const error = document.getElementById("login-error");
  const submit = document.getElementById("login-submit");

  function messageOf(body, fallback) {
    return (body && body.error && body.error.message) || fallback;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    submit.disabled = true;
    try {
      const response = await fetch(form.dataset.loginUrl, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        credentials: "same-origin",
        body: JSON.stringify({
          username: form.elements.username.value,
          password: form.elements.password.value,
        }),
      });
      const body = await response.json().catch(() => null);
      if (!response.ok) {
        error.textContent = messageOf(body, "Logowanie nie powiodło się (" + response.status + ").");
        return;
      }
      const token = body && (body.token || body.access_token);
      if (!token) {
        error.textContent = "Serwer nie zwrócił tokenu.";
        return;
      }
      const session = await fetch(form.dataset.sessionUrl, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-Requested-With": "moderation-page" },
        credentials: "same-origin",
        body: JSON.stringify({ token }),
      });
      if (!session.ok) {
        const failed = await session.json().catch(() => null);
        error.textContent = messageOf(failed, "Nie udało się otworzyć sesji (" + session.status + ").");
        return;
      }
      window.location.replace(form.dataset.next);
    } catch (exc) {
      error.textContent = "Brak połączenia z serwerem.";
    } finally {
      submit.disabled = false;
    }
  });
});
