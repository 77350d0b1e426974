// The start page of a calendar link (/oauth/<provider>/start): prove to Chronik that this
// browser belongs to the user who started the link, then go on to the provider's consent page.
// The proof is the user's API token, sent from Chronik's own origin: the one the live page
// keeps in this browser, or one pasted here (then kept, so the live page is signed in too).
const TOKEN_KEY = "chronik.token";
const form = document.getElementById("link-start");
const status = document.getElementById("link-status");
const error = document.getElementById("link-error");

function showError(message) {
  status.textContent = "";
  error.textContent = message;
  error.hidden = false;
}

async function proceed(token, remember) {
  error.hidden = true;
  let response;
  let body = {};
  try {
    response = await fetch(location.pathname, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ state: form.state.value, token }),
    });
    body = await response.json();
  } catch {
    showError("Chronik did not answer. Try again.");
    return;
  }
  if (response.ok && body.providerUrl) {
    if (remember) localStorage.setItem(TOKEN_KEY, token);
    location.assign(body.providerUrl);
    return;
  }
  if (body.final) form.hidden = true;
  showError(body.error || `Chronik refused (HTTP ${response.status}).`);
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  proceed(form.token.value.trim(), true);
});

const saved = localStorage.getItem(TOKEN_KEY);
if (saved) {
  status.textContent = "Continuing as the Chronik user signed in to this browser…";
  proceed(saved, false);
}
