// Browser tests of the web UI: Playwright (playwright-core) driving Debian's Chromium against two
// real cosell nodes that tests/tests/browser.rs starts (a vendor and its partner, with users, a
// partnership and a policy) and describes in COSELL_* environment variables.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";

// axe-core, injected into every page and state the tests screenshot: zero violations of any impact.
const AXE = fs.readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

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
const SECOND = env("COSELL_SECOND_URL");
const SECOND_ID = env("COSELL_SECOND_ID");
const SECOND_TOKEN = env("COSELL_SECOND_TOKEN");
const BOTH_OPPORTUNITY = env("COSELL_BOTH_OPPORTUNITY_ID");
const SHOTS = process.env.COSELL_SCREENSHOTS || path.join(os.tmpdir(), "cosell-browser-screenshots");
const CHROMIUM = process.env.COSELL_CHROMIUM || "/usr/bin/chromium";
const WAIT = 20_000;
const MAILDIR = env("COSELL_MAILDIR");

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
    // axe-core is injected as an inline script, which the node's CSP (rightly) forbids pages.
    bypassCSP: true,
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
  // (At phone width the user's name is in the closed menu.)
  await page.locator("#whoami").waitFor({ state: "attached" });
}

/** Goes to a route and waits for its page (not the loading placeholder). */
async function open(page, base, hash) {
  const target = `${base}/${hash}`;
  // Going to the very same URL fires no hashchange: reload to read the page's data again.
  if (page.url() === target) await page.reload();
  else await page.goto(target);
  await page.locator("main .page h1").waitFor();
}

/** Every accessibility violation axe-core finds on the page as it is now, as readable lines. */
async function axeViolations(page) {
  if (!(await page.evaluate(() => Boolean(window.axe)))) await page.addScriptTag({ content: AXE });
  const result = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ["violations"] });
    return r.violations.map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(" | ")}`);
  });
  return result;
}

/** Every state axe-core checked, with what it found (the last test asserts none found anything). */
const axeFound = new Map();

/** A screenshot of the page's state, and axe-core's check of that state. */
async function shot(page, name) {
  // Let transitions and live repaints settle.
  await page.waitForTimeout(50);
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
  axeFound.set(name, await axeViolations(page));
}

/** A key/value table's rows (`tr[data-field]`) as an object. */
async function fieldsOf(locator) {
  return locator.evaluate((table) => Object.fromEntries([...table.querySelectorAll("tr[data-field]")].map((tr) => { const td = tr.querySelector("td"); return [tr.dataset.field, td.dataset.value ?? td.textContent]; })));
}

/** What a key/value table shows people (formatted values). */
async function shownOf(locator) {
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
  await shot(vendor, "signin-error-1280");
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

/** Signs `username` in on a fresh browser and saves their e-mail choices on "My e-mail". */
async function optIn(base, username, email, notifications, digest = false) {
  const page = await newBrowser();
  await signIn(page, base, username);
  await open(page, base, "#/settings");
  await page.getByLabel("E-mail address").fill("not an address");
  await page.getByRole("button", { name: "Save" }).click();
  await page.locator("#settings-result .error", { hasText: "email: 'not an address' is not an e-mail address" }).waitFor();
  await page.getByLabel("E-mail address").fill(email);
  for (const n of notifications) await page.getByLabel(n).check();
  if (digest) await page.getByLabel(/one digest a day/).check();
  await page.getByRole("button", { name: "Save" }).click();
  await page.locator("#settings-result .notice", { hasText: `to ${email}` }).waitFor();
  return page;
}

test("e-mail: users opt in on My e-mail, per notification, with a digest option", async () => {
  const paula = await optIn(PARTNER, "paula", "paula@partner.example", ["An invitation to a deal arrived", "The vendor approved or rejected your registration", "Someone mentioned you"]);
  await shot(paula, "settings-1280");
  await optIn(VENDOR, "alice", "alice@vendor.example", ["A partner registered a deal with you", "A registration is overdue"]);
  await optIn(VENDOR, "mark", "mark@vendor.example", ["A partner registered a deal with you"], true);
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

test("bug 1: the partner's dashboard counts the invitation waiting for its answer and links to it", async () => {
  assert.ok(dealId, "needs the shared deal");
  await open(partner, PARTNER, "#/");
  const tile = partner.locator("#stat-inbox");
  await tile.locator(".stat-value", { hasText: /^1$/ }).waitFor();
  // "Needs me" leads the page with the invitation, and the navigation carries the count.
  assert.equal(await partner.locator("#needs-invitations").getAttribute("data-count"), "1");
  await partner.locator("#needs-invitations a", { hasText: "Acme platform rollout" }).waitFor();
  assert.equal(await partner.locator('a[data-nav="inbox"] .nav-badge').getAttribute("data-count"), "1");
  const box = await partner.locator("#needs-me").boundingBox();
  const stats = await partner.locator(".stats").boundingBox();
  assert.ok(box.y < stats.y, "what needs me comes first");
  await shot(partner, "dashboard-partner-1280");
  await tile.click();
  await partner.locator(`#inbox-table tr[data-deal="${dealId}"]`).waitFor();
  // Back to the invitation for the accept test.
  await open(partner, PARTNER, `#/deals/${dealId}`);
  await partner.locator("#accept").waitFor();
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

test("bug 5: the share preview for two partners shows exactly what the deal then carries", async () => {
  await open(vendor, VENDOR, `#/opportunities/${BOTH_OPPORTUNITY}`);
  await vendor.getByRole("checkbox", { name: /Partner Inc/ }).check();
  await vendor.getByRole("checkbox", { name: /Second Partner/ }).check();
  // One partner gets the month, the other the quarter: the deal carries the quarter.
  await vendor.locator(`#share-previews .preview[data-partner="${PARTNER_ID}"] tr[data-field="close_date"] td[data-value="2027-05"]`).waitFor();
  await vendor.locator(`#share-previews .preview[data-partner="${SECOND_ID}"] tr[data-field="close_date"] td[data-value="2027-Q2"]`).waitFor();
  await vendor.locator("#share-combined-fields").waitFor();
  const combined = await fieldsOf(vendor.locator("#share-combined-fields"));
  assert.equal(combined.close_date, "2027-Q2");
  assert.equal(combined.amount, undefined, "the second partner's policy withholds the amount");
  await shot(vendor, "share-two-partners-1280");
  await vendor.getByRole("button", { name: "Share with 2 partners" }).click();
  await vendor.waitForURL(/#\/deals\/[0-9a-f]+$/);
  await vendor.locator("#deal-fields").waitFor();
  assert.deepEqual(await fieldsOf(vendor.locator("#deal-fields")), combined);
  // Labels in words, values formatted.
  const shown = await shownOf(vendor.locator("#deal-fields"));
  assert.equal(shown.stage, "Prospect");
  assert.deepEqual(await vendor.locator("#deal-fields th").allInnerTexts(), ["Name", "Stage", "Close date", "Account", "Account domain"]);
});

test("bug 4: partner types and deal roles are right on both sides; only a vendor is offered for registration", async () => {
  // The vendor's partners carry their type; inviting from the UI sends the type chosen.
  await open(vendor, VENDOR, "#/partners");
  assert.equal(await vendor.locator(`#partners-table tr[data-partner="${PARTNER_ID}"] .partner-type`).innerText(), "Reseller");
  const sent = vendor.waitForRequest((r) => r.url().endsWith("/api/v1/partners/invites") && r.method() === "POST");
  await vendor.getByLabel("They will be your").selectOption("distributor");
  await vendor.getByRole("button", { name: "Create invite" }).click();
  assert.equal(JSON.parse((await sent).postData()).type, "distributor");
  await vendor.locator("#invite-token").waitFor();
  await shot(vendor, "partners-invite-1280");
  // In the deal the vendor shared, the vendor is the vendor and the partner a reseller.
  await open(vendor, VENDOR, `#/deals/${dealId}`);
  assert.equal(await vendor.locator(`#participants li[data-node="${VENDOR_ID}"] .participant-role`).getAttribute("data-role"), "vendor");
  assert.equal(await vendor.locator(`#participants li[data-node="${PARTNER_ID}"] .participant-role`).getAttribute("data-role"), "reseller");
  // The partner shares its own opportunity with its vendor: it is not the vendor in that deal.
  const opp = await apiAs(PARTNER, PARTNER_TOKEN, "POST", "/opportunities", JSON.stringify({ account_domain: "partner-only.example", name: "Reseller-led deal", stage: "qualified", amount: "1000", currency: "EUR" }));
  assert.equal(opp.status, 201, JSON.stringify(opp.json));
  await open(partner, PARTNER, `#/opportunities/${opp.json.id}`);
  await partner.getByRole("checkbox", { name: /Vendor Co/ }).check();
  await partner.getByRole("button", { name: "Share with 1 partner" }).click();
  await partner.waitForURL(/#\/deals\/[0-9a-f]+$/);
  await partner.locator("#participants").waitFor();
  assert.equal(await partner.locator(`#participants li[data-node="${PARTNER_ID}"] .participant-role`).getAttribute("data-role"), "reseller");
  assert.equal(await partner.locator(`#participants li[data-node="${VENDOR_ID}"] .participant-role`).getAttribute("data-role"), "vendor");
  // The vendor's own node offers no registration form (its partners are resellers); the
  // reseller's offers its vendor only.
  await open(vendor, VENDOR, "#/registrations");
  assert.equal(await vendor.locator("#registration-form").count(), 0);
  await open(partner, PARTNER, "#/registrations");
  assert.deepEqual(await partner.getByLabel("Vendor").locator("option").allInnerTexts(), ["Vendor Co (vendor)"]);
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

test("bug 2: a new webhook's signing secret stays until the user is done", async () => {
  await open(vendor, VENDOR, "#/webhooks");
  await vendor.getByLabel("URL").fill("http://127.0.0.1:9/hook");
  await vendor.getByRole("button", { name: "Add webhook" }).click();
  const secret = vendor.getByLabel("Signing secret");
  await secret.waitFor();
  const value = await secret.inputValue();
  assert.ok(value.length >= 16, value);
  await shot(vendor, "webhook-secret-1280");
  await vendor.waitForTimeout(5000);
  assert.equal(await vendor.getByLabel("Signing secret").inputValue(), value, "still shown after 5 s");
  await vendor.getByRole("button", { name: "Done" }).click();
  await vendor.locator("#webhooks-table tr[data-webhook]").first().waitFor();
});

/** WCAG contrast of an element's text on the page's background at that point. */
async function contrastOf(locator) {
  return locator.evaluate((el) => {
    const rgb = (c) => (c.match(/[\d.]+/g) || []).map(Number);
    const lum = ([r, g, b]) => {
      const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
      return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
    };
    let bg = null;
    for (let n = el; n && !bg; n = n.parentElement) {
      const c = rgb(getComputedStyle(n).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0)) bg = c.slice(0, 3);
    }
    const a = lum(rgb(getComputedStyle(el).color));
    const b = lum(bg || [255, 255, 255]);
    return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
  });
}

test("bug 3: the pager's Next page link is readable", async () => {
  await open(vendor, VENDOR, "#/opportunities?size=10");
  const next = vendor.locator("#next-page");
  await next.waitFor();
  const ratio = await contrastOf(next);
  assert.ok(ratio >= 4.5, `Next page contrast ${ratio.toFixed(2)}:1`);
  await shot(vendor, "opportunities-pager-1280");
});

test("bug 6: the pipeline chart shows every currency's amounts, open stages only, labels whole", async () => {
  await open(vendor, VENDOR, "#/");
  const eur = vendor.locator('.pipeline-chart[data-currency="EUR"] svg');
  const usd = vendor.locator('.pipeline-chart[data-currency="USD"] svg');
  await eur.waitFor();
  await usd.waitFor();
  const labels = await vendor.locator(".pipeline-chart .chart-label").allTextContents();
  assert.ok(labels.includes("Technical validation"), labels.join(", "));
  assert.ok(!labels.some((l) => /closed lost/i.test(l)), "closed-lost is not pipeline");
  assert.ok(!labels.some((l) => l.endsWith("…")), "no label cut short");
  // Bars are amounts: the USD chart names the 250,000 committed.
  assert.match(await usd.getAttribute("aria-label"), /Committed \$250K/);
  // No label is clipped by the SVG's box.
  const clipped = await vendor.evaluate(() => [...document.querySelectorAll(".pipeline-chart .chart-label")].filter((t) => t.getBBox().x < 0).map((t) => t.textContent));
  assert.deepEqual(clipped, []);
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
  await viewer.locator("#role-needed", { hasText: "this needs the admin role, and you are signed in as viewer" }).waitFor();
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
  const conflict = onVendor.locator('.reg-conflicts li[data-kind="opportunity"]', { hasText: "Acme platform rollout" });
  await conflict.waitFor();
  assert.match(await conflict.textContent(), /Acme platform rollout \(Qualified, Private Owner\)/);
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

  // Bug 7: the vendor's mapping page, open while the partner maps, updates live.
  await open(vendor, VENDOR, `#/mapping?partner=${PARTNER_ID}`);
  await vendor.locator("#mapping-matrix .empty").waitFor();
  await vendor.evaluate(() => {
    window.__notReloaded = true;
  });
  await vendor.locator("#live-dot[data-on=true]").waitFor();
  await open(partner, PARTNER, "#/mapping");
  assert.equal(await partner.getByLabel("Partner").locator("option:checked").textContent(), "Vendor Co");
  await partner.locator("#mapping-matrix .empty", { hasText: "No mapping with Vendor Co yet." }).waitFor();
  await partner.getByRole("button", { name: "Run mapping now" }).click();
  await partner.locator("#mapping-msg .notice", { hasText: "Mapped with Vendor Co." }).waitFor();
  await vendor.locator('#mapping-table td[data-mine="customers"][data-theirs="prospects"]').waitFor();
  await vendor.locator("#mapping-msg .notice", { hasText: "a new mapping with Partner Inc arrived" }).waitFor();
  assert.equal(await vendor.evaluate(() => window.__notReloaded), true, "no reload");
  // The key pairings stand out, cells are colour-scaled, totals add up.
  const key = vendor.locator('#mapping-table td[data-mine="customers"][data-theirs="prospects"]');
  assert.equal(await key.getAttribute("data-key"), "true");
  assert.ok(Number(await key.getAttribute("data-heat")) > 0);
  assert.equal(await vendor.locator("#mapping-total").innerText(), String(await vendor.evaluate(() => [...document.querySelectorAll("#mapping-table tbody td.cell")].reduce((a, td) => a + (Number(td.dataset.count) || 0), 0))));
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
  // My account owner: who to ask on my side.
  await partner.locator('#overlaps-table tr[data-domain="company-1.example"] td.owner', { hasText: "Pat" }).waitFor();
  // Search and sort.
  await partner.getByLabel("Search").fill("company two");
  await partner.waitForFunction(() => document.querySelectorAll("#overlaps-table tbody tr").length === 1);
  await partner.getByLabel("Search").fill("");
  await partner.waitForFunction(() => document.querySelectorAll("#overlaps-table tbody tr").length === 2);
  await partner.getByLabel("Sort by").selectOption("domain");
  assert.deepEqual(await partner.locator("#overlaps-table tbody tr").evaluateAll((rows) => rows.map((r) => r.dataset.domain)), ["company-1.example", "company-2.example"]);
  // CSV export of the list as shown.
  const download = partner.waitForEvent("download");
  await partner.getByRole("button", { name: "Export CSV" }).click();
  const file = await (await download).path();
  const csv = fs.readFileSync(file, "utf8").trim().split(/\r?\n/);
  assert.match(csv[0], /^name,domain,my_owner,in_deal_or_registration,their_/);
  assert.equal(csv.length, 3);
  assert.match(csv[1], /^Company One \(partner view\),company-1\.example,Pat,/);
  // A saved view comes back from the list of views.
  await partner.getByLabel("Name this view").fill("Prospects they sell to");
  await partner.getByRole("button", { name: "Save this view" }).click();
  await partner.getByLabel("Saved views").waitFor();
  await shot(partner, "mapping-drill-1280");
  await partner.locator('#mapping-table td[data-mine="prospects"][data-theirs="prospects"] button').click();
  // "Already in a deal or registration": acme.example is the partner's approved registration.
  await partner.locator('#overlaps-table tr[data-domain="acme.example"][data-flight="registration"] .in-flight', { hasText: "registered (approved)" }).waitFor();
  await partner.getByLabel("Saved views").selectOption("Prospects they sell to");
  await partner.waitForURL(/mine=prospects&theirs=customers/);
  await partner.locator('#overlaps-table tr[data-domain="company-1.example"]').waitFor();

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

test("saved mapping views are kept on the node per user: another browser finds them; this browser's old views move there once", async () => {
  // A fresh profile (nothing in its localStorage) signed in as the same user finds the view the
  // mapping test saved: it is on the node, not in that browser.
  const page = await newBrowser();
  await signIn(page, PARTNER, "paula");
  await open(page, PARTNER, `#/mapping?partner=${VENDOR_ID}`);
  const names = () => page.locator("#mapping-view option").evaluateAll((os) => os.map((o) => o.value).filter(Boolean));
  await page.getByLabel("Saved views").waitFor();
  assert.deepEqual(await names(), ["Prospects they sell to"]);
  // Views an older UI kept in this browser move to the node on the next visit, once.
  await page.evaluate((partner) => localStorage.setItem("cosell.mapping.views", JSON.stringify([{ name: "Kept in this browser", partner, mine: "prospects", theirs: "customers", q: "company", sort: "domain" }])), VENDOR_ID);
  await open(page, PARTNER, `#/mapping?partner=${VENDOR_ID}`);
  await page.locator('#mapping-view option[value="Kept in this browser"]').waitFor({ state: "attached" });
  assert.equal(await page.evaluate(() => localStorage.getItem("cosell.mapping.views")), null);
  const stored = await page.evaluate(async () => (await (await fetch("/api/v1/me/mapping-views")).json()).items.map((v) => [v.name, v.view.mine, v.view.theirs]));
  assert.deepEqual(stored, [["Kept in this browser", "prospects", "customers"], ["Prospects they sell to", "prospects", "customers"]]);
  await page.reload();
  await page.getByLabel("Saved views").waitFor();
  assert.deepEqual(await names(), ["Kept in this browser", "Prospects they sell to"]);
  await shot(page, "mapping-saved-views-1280");
  // Opening a migrated view, then deleting it: gone after a reload too.
  await page.getByLabel("Saved views").selectOption("Kept in this browser");
  await page.waitForURL(/mine=prospects&theirs=customers&q=company&sort=domain/);
  // (The page drawn for that address: its search box holds the view's search.)
  await page.waitForFunction(() => document.querySelector("#overlap-search")?.value === "company");
  // The list says which saved view is on screen; Delete removes that one.
  assert.equal(await page.getByLabel("Saved views").inputValue(), "Kept in this browser");
  await page.getByRole("button", { name: "Delete view" }).click();
  await page.waitForFunction(() => ![...document.querySelectorAll("#mapping-view option")].some((o) => o.value === "Kept in this browser"));
  await page.reload();
  await page.getByLabel("Saved views").waitFor();
  assert.deepEqual(await names(), ["Prospects they sell to"]);
  // A name the node refuses is said so, and nothing is saved.
  await page.locator('#mapping-table td[data-mine="prospects"][data-theirs="customers"] button').click();
  await page.getByLabel("Name this view").fill("a/b");
  await page.getByRole("button", { name: "Save this view" }).click();
  await page.locator("#mapping-msg .error", { hasText: "'/'" }).waitFor();
  assert.deepEqual(await names(), ["Prospects they sell to"]);
  assert.deepEqual(page.errors, []);
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
  await viewer.locator("#role-needed", { hasText: "this needs the admin role" }).waitFor();
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

test("bug 7: approve is not offered on a registration another partner registered first", async () => {
  const r = await apiAs(SECOND, SECOND_TOKEN, "POST", "/registrations", JSON.stringify({ vendor: VENDOR_ID, account_name: "Acme Corp", account_domain: "acme.example" }));
  assert.equal(r.status, 201, JSON.stringify(r.json));
  await reloadUntil(vendor, VENDOR, "#/registrations", (p) => registrationRow(p, r.json.id), "the second registration did not reach the vendor");
  const row = registrationRow(vendor, r.json.id);
  await row.locator(".reg-conflicts li").first().waitFor();
  assert.equal(await row.getByRole("button", { name: "Approve" }).count(), 0);
  assert.match(await row.locator(".blocked").innerText(), /Partner Inc registered it first: reject this one/);
  assert.equal(await row.getByRole("button", { name: "Reject…" }).count(), 1);
  await shot(vendor, "registrations-blocked-1280");
});

test("bug 7: a manager opening Users is told it needs an admin; a sign-in link in an open tab signs in and leaves no token", async () => {
  const page = await newBrowser();
  await signIn(page, VENDOR, "mark");
  await open(page, VENDOR, "#/users");
  assert.equal(await page.locator("main h1").innerText(), "Users and API tokens");
  await page.locator("#role-needed", { hasText: "Only an admin can open this page: this needs the admin role, and you are signed in as manager." }).waitFor();
  assert.equal(await page.getByText("Something went wrong").count(), 0);
  await shot(page, "users-manager-1280");
  // The link opened in this tab (a hash change, no page load).
  await open(page, VENDOR, "#/deals");
  await page.evaluate((t) => {
    location.hash = `#token=${t}`;
  }, VENDOR_TOKEN);
  await page.locator("#whoami", { hasText: "API token" }).waitFor();
  await page.locator("main .page h1", { hasText: "Dashboard" }).waitFor();
  assert.ok(!page.url().includes("token="), page.url());
  await page.goBack();
  await page.waitForTimeout(300);
  assert.ok(!page.url().includes("token="), `history: ${page.url()}`);
  assert.equal(await page.getByRole("heading", { name: "Not found" }).count(), 0);
  assert.deepEqual(page.errors, []);
});

test("keyboard: skip links, focus to the next invitation after accepting, focus to the error after a failure", async () => {
  // Two invitations waiting on the partner's node.
  const opps = await apiAs(VENDOR, VENDOR_TOKEN, "GET", "/opportunities?limit=5");
  const shareIt = async (o) => apiAs(VENDOR, VENDOR_TOKEN, "POST", "/deals", JSON.stringify({ opportunity_id: o.id, partners: [PARTNER_ID] }));
  for (const o of opps.json.items.filter((o) => !/Acme/.test(o.name)).slice(0, 2)) assert.equal((await shareIt(o)).status, 201);
  await reloadUntil(partner, PARTNER, "#/inbox", (p) => p.locator('#inbox-table tr[data-deal] button:text-is("Accept")').nth(1), "two invitations did not reach the partner");
  const rows = await partner.locator("#inbox-table tr[data-deal]").evaluateAll((trs) => trs.filter((tr) => tr.querySelector("button")).map((tr) => tr.dataset.deal));
  await partner.locator(`#inbox-table tr[data-deal="${rows[0]}"] button`, { hasText: "Accept" }).click();
  await partner.waitForFunction((id) => document.activeElement && document.activeElement.closest(`tr[data-deal="${id}"]`) && document.activeElement.textContent === "Accept", rows[1]);
  await shot(partner, "inbox-1280");

  // Skip links: the first Tab stops after a page load, each moving focus where it says.
  await open(partner, PARTNER, "#/");
  await partner.reload();
  await partner.locator("main .page h1").waitFor();
  await partner.keyboard.press("Tab");
  assert.equal(await partner.evaluate(() => document.activeElement.textContent), "Skip to content");
  await partner.keyboard.press("Enter");
  assert.equal(await partner.evaluate(() => document.activeElement.id), "main");
  await partner.reload();
  await partner.locator("main .page h1").waitFor();
  await partner.keyboard.press("Tab");
  await partner.keyboard.press("Tab");
  assert.equal(await partner.evaluate(() => document.activeElement.textContent), "Skip to the navigation");
  await partner.keyboard.press("Enter");
  assert.equal(await partner.evaluate(() => document.activeElement.id), "site-nav");

  // A failed action puts the focus on its error.
  await open(partner, PARTNER, `#/deals/${dealId}`);
  await partner.getByRole("button", { name: "Post comment" }).click();
  await partner.waitForFunction(() => document.activeElement && document.activeElement.classList.contains("error"));
  assert.match(await partner.evaluate(() => document.activeElement.textContent), /Write a comment first/);
});

test("deal room: comments with person, company, time and verified badge; @mention; link my opportunity; attribution", async () => {
  await open(vendor, VENDOR, `#/deals/${dealId}`);
  await vendor.getByLabel("Add a comment").fill("Can you join the CIO call on Friday? @paula");
  await vendor.getByRole("button", { name: "Post comment" }).click();
  const mine = vendor.locator("#comment-feed li", { hasText: "CIO call" });
  await mine.waitFor();
  assert.match(await mine.locator(".who").innerText(), /^alice · Vendor Co \(you\)$/);
  assert.equal(await mine.locator(".mention").innerText(), "@paula");
  await mine.locator(".badge.ok", { hasText: "verified" }).waitFor();
  // On the partner's node: the same comment, the vendor's signature verified there.
  await reloadUntil(partner, PARTNER, `#/deals/${dealId}`, (p) => p.locator("#comment-feed li", { hasText: "CIO call" }), "the comment did not reach the partner");
  const theirs = partner.locator("#comment-feed li", { hasText: "CIO call" });
  assert.match(await theirs.locator(".who").innerText(), /^alice · Vendor Co$/);
  await theirs.locator(".badge.ok", { hasText: "verified" }).waitFor();
  // The partner links an opportunity of its own: its stage shows beside the vendor's. (The
  // deal shares no account domain since the vendor's policy changed: no "create from the deal".)
  assert.equal(await partner.getByRole("button", { name: "Create one from the deal" }).count(), 0);
  await partner.getByLabel("Opportunity", { exact: true }).selectOption({ label: "Company One expansion (Qualified)" });
  await partner.getByRole("button", { name: "Link", exact: true }).click();
  await partner.locator("#linked, #link-result .error").first().waitFor();
  assert.equal(await partner.locator("#link-result .error").count(), 0, await partner.locator("#link-result").innerText().catch(() => ""));
  assert.equal(await partner.locator(`#stage-map tr[data-node="${PARTNER_ID}"] .their-stage`).innerText(), "Qualified");
  // Attribution: the partner proposes that it sourced the deal; the vendor accepts.
  await partner.getByLabel("Sourced by").selectOption(PARTNER_ID);
  await partner.getByRole("button", { name: "Propose attribution" }).click();
  await partner.locator(`#attribution-proposals li[data-by="${PARTNER_ID}"]`).waitFor();
  await reloadUntil(vendor, VENDOR, `#/deals/${dealId}`, (p) => p.locator(`#attribution-proposals li[data-by="${PARTNER_ID}"] button`), "the attribution proposal did not reach the vendor");
  await vendor.locator(`#attribution-proposals li[data-by="${PARTNER_ID}"] button`, { hasText: "Accept" }).click();
  await vendor.locator("#attribution-agreed", { hasText: "Sourced by Partner Inc" }).waitFor();
  await shot(vendor, "deal-room-1280");
  await shot(partner, "deal-room-partner-1280");
});

test("main pages render at 1280 and 390 px wide without page errors", async () => {
  const phone = await newBrowser(390);
  await signIn(phone, VENDOR, "alice");
  const pages = [["dashboard", "#/"], ["opportunities", "#/opportunities"], ["opportunity", `#/opportunities/${OPPORTUNITY}`], ["inbox", "#/inbox?status=all"], ["deals", "#/deals"], ["deal", `#/deals/${dealId}`], ["partners", "#/partners"], ["policy", `#/partners/${PARTNER_ID}/policy`], ["audit", "#/audit"], ["webhooks", "#/webhooks"], ["network", "#/network"], ["registrations", "#/registrations"], ["mapping", `#/mapping?partner=${PARTNER_ID}&mine=customers&theirs=prospects`], ["users", "#/users"], ["settings", "#/settings"], ["crm", "#/crm"], ["erase", "#/erase"], ["plans", "#/plans"]];
  for (const [name, hash] of pages) {
    for (const [page, width] of [[vendor, 1280], [phone, 390]]) {
      await open(page, VENDOR, hash);
      await page.waitForTimeout(150);
      // Nothing wider than the window but tables, which scroll in their own box.
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      const wide = overflow > 1 ? await page.evaluate(() => [...document.querySelectorAll("body *")].filter((el) => el.getBoundingClientRect().right > window.innerWidth + 1 && !el.closest(".table-wrap")).slice(0, 5).map((el) => `${el.tagName.toLowerCase()}#${el.id}.${el.className} (${Math.round(el.getBoundingClientRect().width)}px)`)) : [];
      assert.ok(overflow <= 1, `${name} at ${width}px overflows by ${overflow}px: ${wide.join(", ")}`);
      const header = await page.locator("#site-header").boundingBox();
      if (width === 390) {
        assert.ok(header.height <= 64, `${name}: the header is ${header.height}px high at 390px`);
        // Tables are cards: no table header row shows.
        assert.equal(await page.locator("main table.stack thead:visible").count(), 0, `${name}: a table shows its header row at 390px`);
      }
      await shot(page, `${name}-${width}`);
    }
  }
  // The phone's navigation is a menu behind one button.
  await open(phone, VENDOR, "#/");
  assert.equal(await phone.locator("#site-nav").isVisible(), false);
  await phone.getByRole("button", { name: /^Menu/ }).click();
  await phone.locator("#site-nav").waitFor();
  assert.equal(await phone.getByRole("button", { name: /^Menu/ }).getAttribute("aria-expanded"), "true");
  await shot(phone, "menu-390");
  await phone.getByRole("link", { name: /^Registrations/ }).click();
  await phone.locator("main .page h1", { hasText: "Deal registrations" }).waitFor();
  await shot(phone, "registrations-menu-390");
  // The partner's deal room at phone width too.
  const partnerPhone = await newBrowser(390);
  await signIn(partnerPhone, PARTNER, "paula");
  await open(partnerPhone, PARTNER, `#/deals/${dealId}`);
  await shot(partnerPhone, "deal-room-partner-390");
  await open(partnerPhone, PARTNER, `#/mapping?partner=${VENDOR_ID}&mine=prospects&theirs=customers`);
  await shot(partnerPhone, "mapping-partner-390");
  await open(partner, PARTNER, "#/deals");
  await shot(partner, "partner-deals-1280");
  assert.deepEqual(vendor.errors, []);
  assert.deepEqual(phone.errors, []);
  assert.deepEqual(partner.errors, []);
});

/** The mails in the test's maildir: {to, subject, body} with headers and body decoded. */
function mails() {
  const out = [];
  for (const sub of ["new", "cur"]) {
    const dir = path.join(MAILDIR, sub);
    if (!fs.existsSync(dir)) continue;
    for (const f of fs.readdirSync(dir)) {
      const raw = fs.readFileSync(path.join(dir, f), "utf8").replace(/\r\n/g, "\n");
      const cut = raw.indexOf("\n\n");
      const head = raw.slice(0, cut).replace(/\n[ \t]+/g, " ");
      let body = raw.slice(cut + 2);
      const header = (name) => (head.match(new RegExp(`^${name}: (.*)$`, "mi")) || [])[1] || "";
      const words = (t) => t.replace(/=\?utf-8\?([bq])\?([^?]*)\?=\s*/gi, (_, enc, text) => (enc.toLowerCase() === "b" ? Buffer.from(text, "base64").toString("utf8") : Buffer.from(text.replace(/_/g, " ").replace(/=([0-9A-F]{2})/gi, (m, x) => String.fromCharCode(parseInt(x, 16))), "latin1").toString("utf8")));
      const encoding = header("Content-Transfer-Encoding").toLowerCase();
      if (encoding === "base64") body = Buffer.from(body.replace(/\s+/g, ""), "base64").toString("utf8");
      if (encoding === "quoted-printable") body = Buffer.from(body.replace(/=\n/g, "").replace(/=([0-9A-F]{2})/gi, (m, x) => String.fromCharCode(parseInt(x, 16))), "latin1").toString("utf8");
      out.push({ to: header("To"), subject: words(header("Subject")), body });
    }
  }
  return out;
}

/** Waits for a mail to `to` whose subject matches `re`. */
async function mailTo(to, re, wait = 3 * WAIT) {
  const deadline = Date.now() + wait;
  for (;;) {
    const found = mails().find((m) => m.to.includes(to) && re.test(m.subject));
    if (found) return found;
    assert.ok(Date.now() < deadline, `no mail to ${to} matching ${re}; got: ${mails().map((m) => `${m.to}: ${m.subject}`).join(" | ")}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

test("invitation message and decline reason: the partner reads the message in its inbox, the vendor's deal room says why it declined", async () => {
  const call = async (method, p, body) => {
    const r = await fetch(`${VENDOR}/api/v1${p}`, { method, headers: { authorization: `Bearer ${VENDOR_TOKEN}`, "content-type": "application/json" }, body: body && JSON.stringify(body) });
    const text = await r.text();
    assert.ok(r.ok, `${method} ${p}: ${r.status} ${text}`);
    return JSON.parse(text);
  };
  const account = await call("POST", "/accounts", { name: "Message Corp", domain: "message.example", status: "prospect" });
  const opp = await call("POST", "/opportunities", { account_id: account.id, name: "Message rollout", stage: "qualified" });
  const deal = await call("POST", "/deals", { opportunity_id: opp.id, partners: [PARTNER_ID], message: "Shall we bid together?\nCall me on Friday." });
  await open(partner, PARTNER, "#/inbox");
  const row = partner.locator(`#inbox-table tr[data-deal="${deal.id}"]`);
  await row.locator(".invitation-message", { hasText: "Shall we bid together?" }).waitFor();
  await shot(partner, "inbox-message-1280");
  await row.getByLabel("Reason for declining Message rollout (optional)").fill("No capacity this quarter");
  await row.getByRole("button", { name: "Decline" }).click();
  await open(vendor, VENDOR, `#/deals/${deal.id}`);
  await vendor.locator(`#participants .decline-reason[data-node="${PARTNER_ID}"]`, { hasText: "Declined by Partner Inc: No capacity this quarter" }).waitFor();
  await shot(vendor, "deal-declined-reason-1280");
  assert.deepEqual(partner.errors, []);
  assert.deepEqual(vendor.errors, []);
});

test("e-mail: every notification arrives in the SMTP server, with a link into the UI that works", async () => {
  const invited = await mailTo("paula@partner.example", /^\[Partner Inc\] Vendor Co invites you to a deal: Acme platform rollout$/);
  const link = invited.body.match(/https?:\/\/\S+#\/deals\/[0-9a-f]+/)[0];
  assert.ok(link.startsWith(PARTNER), link);
  await mailTo("paula@partner.example", /Your registration of acme\.example was approved/);
  await mailTo("paula@partner.example", /Your registration of company-3\.example was rejected \(Already in our direct pipeline\)/);
  const mention = await mailTo("paula@partner.example", /You were mentioned in Acme platform rollout: "Can you join the CIO call on Friday\? @paula"/);
  assert.match(mention.body, new RegExp(`#/deals/${dealId}`));
  await mailTo("alice@vendor.example", /A partner registered acme\.example with you/);
  // The second partner's registration of acme.example was left pending past the 72 s answer time.
  await mailTo("alice@vendor.example", /The registration of acme\.example is overdue/, 4 * WAIT);
  // mark chose a digest: one mail with the registrations, none one by one.
  // Digests go out on a timer, so the registrations may be spread over more than one.
  await mailTo("mark@vendor.example", /Your digest: \d+ new items?/);
  const digestWith = async (re) => {
    const deadline = Date.now() + 3 * WAIT;
    for (;;) {
      const digests = mails().filter((m) => m.to.includes("mark@") && /Your digest: \d+ new items?/.test(m.subject));
      if (digests.some((m) => re.test(m.body))) return;
      assert.ok(Date.now() < deadline, `no digest to mark holds ${re}; got: ${digests.map((m) => m.body).join(" | ")}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  };
  await digestWith(/A partner registered company-3\.example with you/);
  assert.ok(!mails().some((m) => m.to.includes("mark@") && /^\[Vendor Co\] A partner registered/.test(m.subject)), "no single mails for a digest user");
  // Nobody gets what they did not choose.
  assert.ok(!mails().some((m) => m.to.includes("alice@") && /invites you/.test(m.subject)));
  // The link opens the deal in the web UI.
  const page = await newBrowser();
  await signIn(page, PARTNER, "paula");
  await page.goto(link);
  await page.locator("main .page h1", { hasText: "Acme platform rollout" }).waitFor();
});

test("axe-core: zero violations, of any impact, on every page and state screenshotted", () => {
  assert.ok(axeFound.size >= 40, `only ${axeFound.size} states were checked`);
  const found = Object.fromEntries([...axeFound].filter(([, v]) => v.length));
  assert.deepEqual(found, {});
});
