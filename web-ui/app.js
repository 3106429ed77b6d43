// The node's overview page: signs in with an API token (kept in this tab only) and shows the
// node's name and record counts from the API.
const tokenKey = "cosell.token";

// A sign-in link (`cosell demo` prints them) carries the token in the URL fragment, which never
// reaches a server: keep it for this tab and drop it from the address bar.
const fragment = new URLSearchParams(location.hash.slice(1));
if (fragment.get("token")) {
  sessionStorage.setItem(tokenKey, fragment.get("token"));
  history.replaceState(null, "", location.pathname + location.search);
}

async function api(path) {
  const token = sessionStorage.getItem(tokenKey);
  const response = await fetch(`/api/v1${path}`, { headers: { Authorization: `Bearer ${token}` } });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error || `HTTP ${response.status}`);
  return body;
}

async function countOf(path) {
  let total = 0;
  let cursor = null;
  do {
    const page = await api(`${path}?limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    total += page.items.length;
    cursor = page.next_cursor;
  } while (cursor);
  return total;
}

async function show() {
  const signin = document.getElementById("signin");
  const overview = document.getElementById("overview");
  if (!sessionStorage.getItem(tokenKey)) {
    signin.hidden = false;
    overview.hidden = true;
    return;
  }
  try {
    const node = await api("/node");
    document.getElementById("node-name").textContent = node.name;
    document.getElementById("node-id").textContent = node.id;
    document.getElementById("count-accounts").textContent = await countOf("/accounts");
    document.getElementById("count-opportunities").textContent = await countOf("/opportunities");
    signin.hidden = true;
    overview.hidden = false;
  } catch (e) {
    sessionStorage.removeItem(tokenKey);
    document.getElementById("signin-error").textContent = e.message;
    signin.hidden = false;
    overview.hidden = true;
  }
}

document.getElementById("token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  sessionStorage.setItem(tokenKey, document.getElementById("token").value.trim());
  show();
});
document.getElementById("signout").addEventListener("click", () => {
  sessionStorage.removeItem(tokenKey);
  show();
});
show();
