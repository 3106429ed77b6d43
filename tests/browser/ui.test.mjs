// Browser tests of the web UI: Playwright (playwright-core) driving Debian's Chromium against two
// real cosell nodes that tests/tests/browser.rs starts (a vendor and its partner, with users, a
// partnership and a policy) and describes in COSELL_* environment variables.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";

function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run these tests through \`cargo test --test browser\``);
  return v;
}

const VENDOR = env("COSELL_VENDOR_URL");
const PARTNER = env("COSELL_PARTNER_URL");
const VENDOR_ID = env("COSELL_VENDOR_ID");
const PARTNER_ID = env("COSELL_PARTNER_ID");
const OPPORTUNITY = env("COSELL_OPPORTUNITY_ID");
const PASSWORD = env("COSELL_PASSWORD");
const VENDOR_TOKEN = env("COSELL_VENDOR_TOKEN");
const PARTNER_TOKEN = env("COSELL_PARTNER_TOKEN");
const SHOTS = process.env.COSELL_SCREENSHOTS || path.join(os.tmpdir(), "cosell-browser-screenshots");
const CHROMIUM = process.env.COSELL_CHROMIUM || "/usr/bin/chromium";
const WAIT = 20_000;

fs.mkdirSync(SHOTS, { recursive: true });
const contexts = [];

/** A fresh browser profile (its own --user-data-dir) with one page. */
async function newBrowser(width = 1280) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cosell-chromium-"));
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    viewport: { width, height: 900 },
  });
  contexts.push({ context, dir });
  const page = context.pages()[0] || (await context.newPage());
  page.setDefaultTimeout(WAIT);
  page.errors = [];
  page.on("pageerror", (e) => page.errors.push(e.message));
  return page;
}

async function signIn(page, base, username) {
  await page.goto(`${base}/`);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.locator("#whoami").waitFor();
}

/** Goes to a route and waits for its page (not the loading placeholder). */
async function open(page, base, hash) {
  const target = `${base}/${hash}`;
  // Going to the very same URL fires no hashchange: reload to read the page's data again.
  if (page.url() === target) await page.reload();
  else await page.goto(target);
  await page.locator("main .page h1").waitFor();
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

/** A key/value table's rows (`tr[data-field]`) as an object. */
async function fieldsOf(locator) {
  return locator.evaluate((table) => Object.fromEntries([...table.querySelectorAll("tr[data-field]")].map((tr) => [tr.dataset.field, tr.querySelector("td").textContent])));
}

let vendor; // the vendor's admin, signed in with a password
let partner; // the partner's manager
let dealId;
let preview;
let registrationId; // acme.example, approved by the vendor
let pendingId; // company-3.example, left pending for the viewer, then rejected

before(async () => {
  vendor = await newBrowser();
  partner = await newBrowser();
});

after(async () => {
  for (const { context, dir } of contexts) {
    await context.close().catch(() => {});
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("sign in with a password: header shows the node, the user and the role", async () => {
  await page_is_sign_in(vendor);
  await vendor.getByLabel("Username").fill("alice");
  await vendor.getByLabel("Password").fill("not the password");
  await vendor.getByRole("button", { name: "Sign in", exact: true }).click();
  await vendor.getByRole("alert").filter({ hasText: "wrong username or password" }).waitFor();
  await signIn(vendor, VENDOR, "alice");
  assert.match(await vendor.locator("#whoami").textContent(), /alice\s*admin/);
  assert.equal(await vendor.locator("#node-name").textContent(), "Vendor Co");
  await vendor.locator("#stat-opportunities").waitFor();
  await vendor.locator(".chart").first().waitFor();
  await shot(vendor, "dashboard-1280");
});

async function page_is_sign_in(page) {
  await page.goto(`${VENDOR}/`);
  await page.locator("#signin-form").waitFor();
}

test("a #token= link signs in with the token and leaves the address bar clean", async () => {
  const page = await newBrowser();
  await page.goto(`${VENDOR}/#token=${VENDOR_TOKEN}`);
  await page.locator("#whoami").waitFor();
  assert.match(await page.locator("#whoami").textContent(), /API token\s*admin/);
  assert.ok(!page.url().includes("token="), page.url());
  await page.locator("main .page h1", { hasText: "Dashboard" }).waitFor();
});

test("import a CSV: a bad row is listed with row, line and column; a good file imports", async () => {
  await open(vendor, VENDOR, "#/opportunities");
  const bad = "external_id,account_external_id,name,stage,amount,currency,close_date\n" +
    "ui-1,acc-1,Good row,qualified,1000,EUR,2027-01-31\n" +
    "ui-2,acc-1,Bad row,not-a-stage,1000,EUR,2027-01-31\n";
  await vendor.getByLabel("What the file holds").selectOption("opportunities");
  await vendor.getByLabel("CSV file").setInputFiles({ name: "bad.csv", mimeType: "text/csv", buffer: Buffer.from(bad) });
  await vendor.getByRole("button", { name: "Import" }).click();
  const error = vendor.locator("#import-result .error");
  await error.waitFor();
  const text = await error.textContent();
  assert.match(text, /1 row is invalid; nothing was imported/);
  assert.match(text, /row 2 \(line 3\), column stage: /);
  await shot(vendor, "import-error-1280");

  const good = "external_id,account_external_id,name,stage,amount,currency,close_date\nui-3,acc-1,Imported from the browser,prospect,5000,EUR,2027-02-28\n";
  await vendor.getByLabel("CSV file").setInputFiles({ name: "good.csv", mimeType: "text/csv", buffer: Buffer.from(good) });
  await vendor.getByRole("button", { name: "Import" }).click();
  await vendor.locator("#import-result .notice", { hasText: "1 new, 0 updated" }).waitFor();
  // The list refreshes on the import.completed event.
  await vendor.locator("#opportunities-table a", { hasText: "Imported from the browser" }).waitFor();
  // Search and stage filter.
  await vendor.getByLabel("Search").fill("Imported from the browser");
  await vendor.getByRole("button", { name: "Search" }).click();
  await vendor.waitForFunction(() => document.querySelectorAll("#opportunities-table tbody tr").length === 1);
  await shot(vendor, "opportunities-1280");
});

test("share an opportunity: the preview is exactly what the partner's node then shows", async () => {
  await open(vendor, VENDOR, `#/opportunities/${OPPORTUNITY}`);
  await vendor.getByRole("checkbox", { name: /Partner Inc/ }).check();
  const card = vendor.locator(`#share-previews .preview[data-partner="${PARTNER_ID}"] table`);
  await card.waitFor();
  preview = await fieldsOf(card);
  // The policy names these fields only; the opportunity's owner and description never show.
  assert.deepEqual(Object.keys(preview).sort(), ["account.domain", "account.name", "amount", "close_date", "name", "stage"]);
  assert.equal(preview.amount, "10000", "the policy rounds the amount to 10,000");
  assert.deepEqual(await fieldsOf(vendor.locator("#share-combined-fields")), preview);
  await shot(vendor, "share-preview-1280");
  await vendor.getByRole("button", { name: "Share with 1 partner" }).click();
  await vendor.waitForURL(/#\/deals\/[0-9a-f]+$/);
  dealId = vendor.url().split("/").pop();
  await vendor.locator("#deal-fields").waitFor();
  assert.deepEqual(await fieldsOf(vendor.locator("#deal-fields")), preview);

  await signIn(partner, PARTNER, "paula");
  assert.match(await partner.locator("#whoami").textContent(), /paula\s*manager/);
  // The invitation reaches the partner's node over the network.
  const deadline = Date.now() + WAIT;
  for (;;) {
    await partner.goto(`${PARTNER}/#/deals/${dealId}`);
    await partner.locator("main .page h1").waitFor();
    if (await partner.locator("#accept").count()) break;
    assert.ok(Date.now() < deadline, "the invitation did not reach the partner's node");
    await partner.waitForTimeout(500);
  }
  await shot(partner, "partner-invited-deal-1280");
});

/** Reloads the partner's deal page until the deal itself (not only the invitation) is there. */
async function partnerDealPage() {
  const deadline = Date.now() + 3 * WAIT;
  for (;;) {
    await open(partner, PARTNER, `#/deals/${dealId}`);
    if (await partner.locator("#deal-fields").count()) return;
    assert.ok(Date.now() < deadline, "the deal did not reach the partner's node within a minute of accepting");
    await partner.waitForTimeout(500);
  }
}

test("accept on the partner's UI: the vendor's open deal page updates live", async () => {
  assert.ok(dealId, "needs the shared deal");
  await open(vendor, VENDOR, `#/deals/${dealId}`);
  const them = vendor.locator(`#participants li[data-node="${PARTNER_ID}"]`);
  assert.equal(await them.getAttribute("data-status"), "invited");
  await vendor.evaluate(() => {
    window.__notReloaded = true;
  });
  await vendor.locator("#live-dot[data-on=true]").waitFor();
  await partner.locator("#accept").click();
  // No reload and no polling in the UI: the change arrives over the event stream.
  await vendor.locator(`#participants li[data-node="${PARTNER_ID}"][data-status="accepted"]`).waitFor();
  assert.equal(await vendor.evaluate(() => window.__notReloaded), true);
  await shot(vendor, "deal-accepted-1280");

  // The partner's node now holds the deal: exactly the fields the vendor's preview showed.
  await partnerDealPage();
  await partner.locator(`#participants li[data-node="${PARTNER_ID}"][data-status="accepted"]`).waitFor();
  assert.deepEqual(await fieldsOf(partner.locator("#deal-fields")), preview);

  // The partner writes its own section; the vendor sees it, signed and verified.
  await partner.getByLabel("Next step").fill("Workshop with the customer");
  await partner.getByRole("button", { name: "Save my section" }).click();
  await partner.locator(".notice", { hasText: "Saved" }).waitFor();
  // (Reloads: the node publishes no event for a partner's section edit yet, only for answers
  // and stage changes.)
  const deadline = Date.now() + WAIT;
  while (!(await vendor.locator(`.section[data-node="${PARTNER_ID}"]`, { hasText: "Workshop with the customer" }).count())) {
    assert.ok(Date.now() < deadline, "the partner's section did not reach the vendor");
    await vendor.waitForTimeout(500);
    await open(vendor, VENDOR, `#/deals/${dealId}`);
  }
  await vendor.locator("#timeline li", { hasText: "Partner Inc" }).first().waitFor();
  assert.equal(await vendor.locator("#timeline .badge.bad").count(), 0, "every change verifies");
  await shot(vendor, "deal-partner-section-1280");
});

test("policy editor: an error is shown inline with its line, then fixed and saved", async () => {
  await open(vendor, VENDOR, `#/partners/${PARTNER_ID}/policy`);
  await vendor.locator("#preview-counts").waitFor();
  const editor = vendor.getByLabel("Policy (TOML)");
  await editor.fill('[opportunities]\nfeilds = ["name"]\n');
  const problem = vendor.locator('#policy-errors li[data-line="2"]');
  await problem.waitFor();
  assert.match(await problem.textContent(), /unknown key "feilds" \(did you mean "fields"\?\)/);
  assert.equal(await editor.getAttribute("aria-invalid"), "true");
  await vendor.getByRole("button", { name: "Save policy" }).click();
  await vendor.locator("#policy-saved .error", { hasText: "the policy is not valid" }).waitFor();
  await shot(vendor, "policy-error-1280");

  await editor.fill('[opportunities]\nfields = ["name", "stage"]\n');
  await vendor.locator("#policy-errors .notice", { hasText: "The policy is valid." }).waitFor();
  await vendor.locator("#preview-counts").waitFor();
  const first = await fieldsOf(vendor.locator("#policy-preview .preview table").first());
  assert.deepEqual(Object.keys(first).sort(), ["name", "stage"]);
  await vendor.getByRole("button", { name: "Save policy" }).click();
  await vendor.locator("#policy-saved .notice", { hasText: "Saved as version 2" }).waitFor();
  await shot(vendor, "policy-saved-1280");
});

test("a viewer sees no write buttons, and the API refuses a write with its sentence", async () => {
  const viewer = await newBrowser();
  await signIn(viewer, VENDOR, "victor");
  assert.match(await viewer.locator("#whoami").textContent(), /victor\s*viewer/);
  await open(viewer, VENDOR, "#/opportunities");
  assert.equal(await viewer.locator("#import-form").count(), 0);
  await open(viewer, VENDOR, `#/opportunities/${OPPORTUNITY}`);
  assert.equal(await viewer.locator("#share").count(), 0);
  await open(viewer, VENDOR, "#/partners");
  assert.equal(await viewer.locator("#invite-form, #join-form, button.danger").count(), 0);
  await open(viewer, VENDOR, `#/partners/${PARTNER_ID}/policy`);
  assert.equal(await viewer.getByRole("button", { name: "Save policy" }).count(), 0);
  await open(viewer, VENDOR, `#/deals/${dealId}`);
  assert.equal(await viewer.locator("#section-form").count(), 0);
  assert.equal(await viewer.getByRole("link", { name: "Webhooks" }).count(), 0);
  // The API itself refuses, with the session's CSRF token and all: 403 and a sentence.
  const refused = await viewer.evaluate(async () => {
    const me = await (await fetch("/api/v1/session")).json();
    const r = await fetch("/api/v1/partners/invites", { method: "POST", headers: { "X-CSRF-Token": me.csrf_token, "Content-Type": "application/json" }, body: "{}" });
    return { status: r.status, body: await r.json() };
  });
  assert.equal(refused.status, 403);
  assert.match(refused.body.error, /needs the admin role/);
  // A page the viewer may not read shows the API's sentence, not a status code.
  await open(viewer, VENDOR, "#/webhooks");
  await viewer.locator(".error", { hasText: "this needs the admin role" }).waitFor();
  await shot(viewer, "viewer-refused-1280");
  assert.deepEqual(viewer.errors, []);
});

/** A call to a node's API with its admin token (test set-up, not what the UI does). */
async function apiAs(base, token, method, route, body, contentType = "application/json") {
  const r = await fetch(`${base}/api/v1${route}`, { method, headers: { Authorization: `Bearer ${token}`, "Content-Type": contentType }, body });
  const text = await r.text();
  return { status: r.status, json: text ? JSON.parse(text) : null };
}

/** Reloads `hash` on `page` until `locator` (built from the page) is there. */
async function reloadUntil(page, base, hash, locator, what, wait = 3 * WAIT) {
  const deadline = Date.now() + wait;
  for (;;) {
    await open(page, base, hash);
    if (await locator(page).count()) return;
    assert.ok(Date.now() < deadline, what);
    await page.waitForTimeout(500);
  }
}

const registrationRow = (page, id) => page.locator(`#registrations-table tr[data-registration="${id}"]`);

test("register a deal on the reseller's UI; the vendor sees the conflict with its pipeline and approves", async () => {
  await open(partner, PARTNER, "#/registrations");
  await partner.locator(".empty", { hasText: "No deal registrations yet" }).waitFor();
  const vendorChoice = await partner.getByLabel("Vendor").locator("option:checked").textContent();
  assert.equal(vendorChoice, "Vendor Co (vendor)");
  // The API's sentence shows inline, next to the form.
  await partner.getByLabel("Account name").fill("Acme Corp");
  await partner.getByLabel("Account domain").fill("not a domain");
  await partner.getByRole("button", { name: "Submit registration" }).click();
  await partner.locator("#registration-result .error", { hasText: "account_domain: 'not a domain' is not a valid domain" }).waitFor();
  assert.equal(await partner.locator("#registrations-table").count(), 0);

  await partner.getByLabel("Account domain").fill("acme.example");
  await partner.getByLabel("Amount").fill("50000");
  await partner.getByLabel("Currency").fill("EUR");
  await partner.getByLabel("Close date").fill("2027-06-30");
  await partner.getByLabel("Products").fill("platform, support");
  await partner.getByLabel("Notes").fill("Met the CIO at the summit");
  await partner.getByRole("button", { name: "Submit registration" }).click();
  await partner.locator("#registration-result .notice", { hasText: "Registered acme.example with Vendor Co" }).waitFor();
  const row = partner.locator("#registrations-table tr[data-registration]", { hasText: "acme.example" });
  await row.waitFor();
  registrationId = await row.getAttribute("data-registration");
  assert.equal(await row.getAttribute("data-status"), "pending");
  // Conflicts are the vendor's business: the partner's node has none to show.
  assert.match(await row.locator(".reg-conflicts").textContent(), /seen by the vendor only/);
  // A second one, left pending for the viewer test.
  await partner.getByLabel("Account name").fill("Company Three");
  await partner.getByLabel("Account domain").fill("company-3.example");
  await partner.getByRole("button", { name: "Submit registration" }).click();
  const second = partner.locator("#registrations-table tr[data-registration]", { hasText: "company-3.example" });
  await second.waitFor();
  pendingId = await second.getAttribute("data-registration");
  await shot(partner, "registrations-partner-1280");
  // The partner corrects its pending registration: a new amount, the close date cleared.
  await second.getByRole("button", { name: "Change…" }).click();
  const changeForm = partner.locator("#registrations-table form.change-form");
  await changeForm.getByLabel("Amount").fill("75000");
  await changeForm.getByLabel("Close date").fill("");
  await changeForm.getByRole("button", { name: "Save changes" }).click();
  await partner.locator(`#registrations-table tr[data-registration="${pendingId}"]`, { hasText: "75,000" }).waitFor();
  assert.doesNotMatch(await registrationRow(partner, pendingId).textContent(), /closes/);

  // The vendor's node: the registration arrives with its conflict, the vendor's own open
  // opportunity on the account.
  await reloadUntil(vendor, VENDOR, "#/registrations", (p) => registrationRow(p, registrationId), "the registration did not reach the vendor");
  const onVendor = registrationRow(vendor, registrationId);
  const conflict = onVendor.locator('.reg-conflicts li[data-kind="opportunity"]');
  await conflict.waitFor();
  assert.match(await conflict.textContent(), /Acme platform rollout \(qualified, Private Owner\)/);
  assert.match(await onVendor.textContent(), /Partner Inc → Vendor Co \(you\)/);
  await shot(vendor, "registrations-vendor-1280");
  await onVendor.getByRole("button", { name: "Approve" }).click();
  await vendor.locator(`#registrations-table tr[data-registration="${registrationId}"][data-status="approved"]`).waitFor();
  // The dashboard counts what the vendor still owes an answer: company-3.example.
  await reloadUntil(vendor, VENDOR, "#/", (p) => p.locator("#stat-registrations .stat-value", { hasText: /^1$/ }), "the dashboard does not count the pending registration");
  assert.equal(await registrationRow(vendor, registrationId).getByRole("button", { name: "Approve" }).count(), 0);

  // The decision travels back, signed, to the partner.
  await reloadUntil(partner, PARTNER, "#/registrations", (p) => p.locator(`#registrations-table tr[data-registration="${registrationId}"][data-status="approved"]`), "the approval did not reach the partner");
  await shot(partner, "registrations-approved-1280");
  assert.deepEqual(partner.errors, []);
});

test("account mapping between two nodes: run it, drill into a cell, propose a deal from an overlap", async () => {
  // The policy editor test replaced the vendor's policy: give account mapping its [accounts] back.
  const policy = '[opportunities]\nfields = ["name", "stage"]\n\n[accounts]\nsharing = "overlaps"\nfields = ["name", "domain", "status"]\n';
  const set = await apiAs(VENDOR, VENDOR_TOKEN, "PUT", `/partners/${PARTNER_ID}/policy`, policy, "text/plain");
  assert.equal(set.status, 200, JSON.stringify(set.json));

  await open(partner, PARTNER, "#/mapping");
  assert.equal(await partner.getByLabel("Partner").locator("option:checked").textContent(), "Vendor Co");
  await partner.locator("#mapping-matrix .empty", { hasText: "No mapping with Vendor Co yet." }).waitFor();
  await partner.getByRole("button", { name: "Run mapping now" }).click();
  await partner.locator("#mapping-msg .notice", { hasText: "Mapped with Vendor Co." }).waitFor();
  // My prospects × the vendor's customers: company-1 and company-2.
  const cell = partner.locator('#mapping-table td[data-mine="prospects"][data-theirs="customers"]');
  assert.equal(await cell.getAttribute("data-count"), "2");
  assert.equal(await cell.getAttribute("data-level"), "overlaps");
  assert.equal(await partner.locator('#mapping-table td[data-mine="prospects"][data-theirs="prospects"]').getAttribute("data-count"), "1");
  // By keyboard: the cell is a button.
  await cell.getByRole("button").focus();
  await partner.keyboard.press("Enter");
  await partner.locator("#mapping-overlaps:focus").waitFor();
  const overlap = partner.locator('#overlaps-table tr[data-domain="company-1.example"]');
  await overlap.waitFor();
  // Both sides: my account, and the fields the vendor's policy lets through.
  const text = await overlap.textContent();
  assert.match(text, /Company One \(partner view\)/);
  assert.match(text, /Company 1/);
  assert.match(text, /customer/);
  assert.equal(await partner.locator("#overlaps-table tbody tr").count(), 2);
  await shot(partner, "mapping-drill-1280");

  // No opportunity on company-2: said so. One on company-1: its share page, the vendor chosen.
  const noDeal = partner.locator('#overlaps-table tr[data-domain="company-2.example"]');
  await noDeal.getByRole("button", { name: "Propose a deal" }).click();
  await noDeal.locator(".notice", { hasText: "You have no opportunity on company-2.example." }).waitFor();
  await overlap.getByRole("button", { name: "Propose a deal" }).click();
  await partner.waitForURL(new RegExp(`#/opportunities/[^/?]+\\?share=${VENDOR_ID}$`));
  await partner.locator("main .page h1", { hasText: "Company One expansion" }).waitFor();
  assert.equal(await partner.getByRole("checkbox", { name: /Vendor Co/ }).isChecked(), true);
  // The partner's policy for the vendor lets the opportunity through: ready to share.
  assert.deepEqual(await fieldsOf(partner.locator("#share-combined-fields")), { name: "Company One expansion", stage: "qualified", "account.name": "Company One (partner view)", "account.domain": "company-1.example" });
  assert.equal(await partner.getByRole("button", { name: "Share with 1 partner" }).isEnabled(), true);
  await shot(partner, "mapping-propose-share-1280");

  // The vendor keeps its own signed view of the same run.
  await open(vendor, VENDOR, `#/mapping?partner=${PARTNER_ID}`);
  assert.equal(await vendor.locator('#mapping-table td[data-mine="customers"][data-theirs="prospects"]').getAttribute("data-count"), "2");
  // An admin adds a custom population.
  await vendor.getByLabel("Name", { exact: true }).fill("german_software");
  await vendor.getByLabel("Industries").fill("Software");
  await vendor.getByLabel("Countries").fill("Germany");
  await vendor.getByRole("button", { name: "Save population" }).click();
  await vendor.locator('#populations-table tr[data-population="german_software"]').waitFor();
  await vendor.getByLabel("Name", { exact: true }).fill("Bad Name");
  await vendor.getByRole("button", { name: "Save population" }).click();
  await vendor.locator("#population-result .error", { hasText: "a population name is 1 to 40 characters" }).waitFor();
  await shot(vendor, "mapping-vendor-1280");
  assert.deepEqual(partner.errors, []);
  assert.deepEqual(vendor.errors, []);
});

test("an admin adds a viewer and a token; the viewer sees registrations without write controls", async () => {
  await open(vendor, VENDOR, "#/users");
  await vendor.locator('#users-table tr[data-user="alice"]').waitFor();
  await vendor.getByLabel("Username").fill("wendy");
  await vendor.getByLabel("Password").fill("short");
  await vendor.getByLabel("Role", { exact: true }).selectOption("viewer");
  await vendor.getByRole("button", { name: "Add user" }).click();
  await vendor.locator("#user-result .error", { hasText: "invalid user" }).waitFor();
  assert.match(await vendor.locator("#user-result .error").textContent(), /password: /);
  await vendor.getByLabel("Password").fill(PASSWORD);
  await vendor.getByRole("button", { name: "Add user" }).click();
  await vendor.locator('#users-table tr[data-user="wendy"]', { hasText: "viewer" }).waitFor();

  // A token: shown once, works, then revoked.
  await vendor.getByLabel("Token name").fill("CRM sync");
  await vendor.getByLabel("Token role").selectOption("manager");
  await vendor.getByRole("button", { name: "Create token" }).click();
  const token = await vendor.getByLabel("New API token").inputValue();
  assert.match(token, /^cosell_[0-9a-f]{64}$/);
  await shot(vendor, "users-token-1280");
  const who = await apiAs(VENDOR, token, "GET", "/session");
  assert.equal(who.status, 200);
  assert.equal(who.json.role, "manager");
  await vendor.getByRole("button", { name: "Done" }).click();
  const tokenRow = vendor.locator("#tokens-table tr[data-token]", { hasText: "CRM sync" });
  await tokenRow.getByRole("button", { name: "Revoke" }).click();
  await tokenRow.getByRole("button", { name: "Yes, revoke" }).click();
  await tokenRow.waitFor({ state: "detached" });
  await vendor.locator("#tokens-table tr[data-token]", { hasText: "admin token from init" }).waitFor();
  assert.equal((await apiAs(VENDOR, token, "GET", "/session")).status, 401);
  await shot(vendor, "users-1280");

  // The new viewer signs in: registrations are readable, nothing can be written.
  const viewer = await newBrowser();
  await signIn(viewer, VENDOR, "wendy");
  assert.match(await viewer.locator("#whoami").textContent(), /wendy\s*viewer/);
  await open(viewer, VENDOR, "#/registrations");
  await registrationRow(viewer, pendingId).waitFor();
  assert.equal(await registrationRow(viewer, pendingId).getAttribute("data-status"), "pending");
  assert.equal(await viewer.locator("#registration-form").count(), 0);
  assert.equal(await viewer.locator("#registrations-table button").count(), 0);
  assert.equal(await viewer.getByRole("link", { name: "Users" }).count(), 0);
  await shot(viewer, "registrations-viewer-1280");
  await open(viewer, VENDOR, `#/mapping?partner=${PARTNER_ID}`);
  assert.equal(await viewer.locator("#mapping-run, #population-form, #populations-table button, .propose").count(), 0);
  await open(viewer, VENDOR, "#/users");
  await viewer.locator(".error", { hasText: "this needs the admin role" }).waitFor();
  assert.deepEqual(viewer.errors, []);
});

test("the vendor rejects a registration with a reason; the partner sees the reason", async () => {
  await open(vendor, VENDOR, "#/registrations");
  const row = registrationRow(vendor, pendingId);
  await row.getByRole("button", { name: "Reject…" }).click();
  await vendor.getByRole("button", { name: "Reject registration" }).click();
  await vendor.locator(".reg-detail .error", { hasText: "a rejection needs a reason" }).waitFor();
  await vendor.getByLabel(/Reason for rejecting company-3\.example/).fill("Already in our direct pipeline");
  await vendor.getByRole("button", { name: "Reject registration" }).click();
  await vendor.locator(`#registrations-table tr[data-registration="${pendingId}"][data-status="rejected"]`).waitFor();
  await reloadUntil(partner, PARTNER, "#/registrations", (p) => p.locator(`#registrations-table tr[data-registration="${pendingId}"][data-status="rejected"]`), "the rejection did not reach the partner");
  assert.match(await registrationRow(partner, pendingId).textContent(), /Reason: Already in our direct pipeline/);
  await shot(partner, "registrations-rejected-1280");
});

test("main pages render at 1280 and 390 px wide without page errors", async () => {
  const phone = await newBrowser(390);
  await signIn(phone, VENDOR, "alice");
  const pages = [["dashboard", "#/"], ["opportunities", "#/opportunities"], ["opportunity", `#/opportunities/${OPPORTUNITY}`], ["deals", "#/deals"], ["deal", `#/deals/${dealId}`], ["partners", "#/partners"], ["policy", `#/partners/${PARTNER_ID}/policy`], ["audit", "#/audit"], ["webhooks", "#/webhooks"], ["network", "#/network"], ["registrations", "#/registrations"], ["mapping", `#/mapping?partner=${PARTNER_ID}`], ["users", "#/users"]];
  for (const [name, hash] of pages) {
    for (const [page, width] of [[vendor, 1280], [phone, 390]]) {
      await open(page, VENDOR, hash);
      await page.waitForTimeout(150);
      // Nothing wider than the window but tables, which scroll in their own box.
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 1, `${name} at ${width}px overflows by ${overflow}px`);
      await shot(page, `${name}-${width}`);
    }
  }
  await open(partner, PARTNER, "#/deals");
  await shot(partner, "partner-deals-1280");
  assert.deepEqual(vendor.errors, []);
  assert.deepEqual(phone.errors, []);
  assert.deepEqual(partner.errors, []);
});
