// Erasure, a deal withdrawn by its origin, and registration revocation in Chromium (started by tests/tests/lifecycle_browser.rs,
// which sets up a vendor, a reseller, a shared deal holding a contact's address in the vendor's
// opportunity and in the reseller's section, and an approved registration). Not named
// *.test.mjs: browser.rs's suite runs those.
import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { env as envOf, launch, axe, SHOTS } from "./harness.mjs";

const env = (name) => envOf(name, "lifecycle_browser");
const VENDOR = env("COSELL_VENDOR_URL");
const PARTNER = env("COSELL_PARTNER_URL");
const PASSWORD = env("COSELL_PASSWORD");
const TOKEN = env("COSELL_VENDOR_TOKEN");
const OPPORTUNITY = env("COSELL_OPPORTUNITY_ID");
const DEAL = env("COSELL_DEAL_ID");
const REGISTRATION = env("COSELL_REGISTRATION_ID");
const EMAIL = env("COSELL_EMAIL");

async function signIn(page, url, username) {
  await page.goto(`${url}/`);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.locator("#whoami").waitFor({ state: "attached" });
}

async function opportunityText() {
  const r = await fetch(`${VENDOR}/api/v1/opportunities/${OPPORTUNITY}`, { headers: { Authorization: `Bearer ${TOKEN}` } });
  assert.equal(r.status, 200);
  return (await r.text()).toLowerCase();
}

test("an admin erases a person's data after a dry run; the vendor withdraws a deal and revokes a registration, and the partner reads both", async () => {
  const context = await launch();
  const page = context.pages()[0] || (await context.newPage());
  page.setDefaultTimeout(20_000);
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await signIn(page, VENDOR, "alice");

  // The Erasure page: a dry run first, its report in tables; nothing changes.
  await page.getByRole("link", { name: "Erasure" }).first().click();
  await page.getByRole("heading", { level: 1, name: "Erase a person's data" }).waitFor();
  await page.getByLabel("Find by").selectOption("email");
  await page.getByLabel("E-mail address or name").fill(EMAIL.toUpperCase());
  await page.getByRole("button", { name: "Find (dry run)" }).click();
  await page.getByRole("heading", { level: 2, name: /What erasing the e-mail address .* would change/ }).waitFor();
  const record = page.locator(`#erase-records tr[data-record="${OPPORTUNITY}"]`);
  await record.waitFor();
  const fields = await record.locator(".erase-fields").textContent();
  assert.match(fields, /Next step/);
  assert.match(fields, /Description/);
  assert.equal((await record.locator(".erase-kept").textContent()).trim(), "—");
  const deal = page.locator(`#erase-deals tr[data-deal="${DEAL}"]`);
  await deal.waitFor();
  assert.match(await deal.textContent(), /its origin/);
  assert.equal(await deal.locator(".erase-fields").textContent(), "Next step (shared)");
  // What the reseller wrote in its section stays with it: the report names the writer.
  assert.match(await deal.locator(".erase-kept").textContent(), /^Contacts \(section\), written by Reseller Co/);
  assert.match(await deal.textContent(), /would be sent to every participant/);
  await page.screenshot({ path: path.join(SHOTS, "erase-dry-run.png"), fullPage: true });
  assert.deepEqual(await axe(page), [], "axe on the erasure dry run");
  assert.ok((await opportunityText()).includes(EMAIL), "a dry run changes nothing");
  // On a phone: the report's tables are cards, nothing is wider than the window.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(150);
  assert.ok((await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)) <= 1, "the erasure report overflows at 390 px");
  assert.equal(await page.locator("main table.stack thead:visible").count(), 0, "a table shows its header row at 390 px");
  await page.screenshot({ path: path.join(SHOTS, "erase-dry-run-390.png"), fullPage: true });
  assert.deepEqual(await axe(page), [], "axe on the erasure dry run at 390 px");
  await page.setViewportSize({ width: 1280, height: 900 });

  // Confirmed: erased, and the report says so.
  await page.getByRole("button", { name: "Erase now" }).click();
  await page.getByRole("button", { name: "Yes, erase" }).click();
  await page.getByRole("heading", { level: 2, name: /^Erased the e-mail address/ }).waitFor();
  assert.match(await page.locator("#erase-report").textContent(), /erased on this node/);
  assert.ok(!(await opportunityText()).includes(EMAIL), "the opportunity no longer holds the address");
  await page.screenshot({ path: path.join(SHOTS, "erase-done.png"), fullPage: true });
  assert.deepEqual(await axe(page), [], "axe after the erasure");
  // Asked again: nothing left here.
  await page.getByRole("button", { name: "Find (dry run)" }).click();
  await page.locator("#erase-report", { hasText: "Nothing on this node holds" }).waitFor();

  // The origin withdraws the deal in its deal room: a reason is needed (the node's 422 shows,
  // focused), then a confirmation; the page shows the tombstone.
  await page.goto(`${VENDOR}/#/deals/${DEAL}`);
  const withdraw = page.locator("#deal-withdraw");
  await withdraw.waitFor();
  await withdraw.getByRole("button", { name: "Withdraw deal" }).click();
  await withdraw.getByRole("button", { name: "Yes, withdraw" }).click();
  await withdraw.locator(".error").waitFor();
  assert.match(await withdraw.locator(".error").textContent(), /reason/);
  await withdraw.getByLabel("Why (the partners read it)").fill("The customer postponed the project");
  await withdraw.getByRole("button", { name: "Withdraw deal" }).click();
  await withdraw.getByRole("button", { name: "Yes, withdraw" }).click();
  await page.locator("#deal-withdrawn", { hasText: "The customer postponed the project" }).waitFor();
  assert.match(await page.locator("#deal-withdrawn").textContent(), /withdrawn by Vendor Co on \d{4}-\d{2}-\d{2}/);
  assert.deepEqual(await axe(page), [], "axe on the withdrawn deal");

  // The vendor revokes the approved registration with a reason.
  await page.getByRole("link", { name: "Registrations" }).first().click();
  const row = page.locator(`#registrations-table tr[data-registration="${REGISTRATION}"]`);
  await row.waitFor();
  assert.equal(await row.getAttribute("data-status"), "approved");
  await row.getByRole("button", { name: "Revoke…" }).click();
  await page.getByLabel(/Reason for revoking revoke-ui.example/).fill("The customer buys direct now");
  await page.getByRole("button", { name: "Revoke registration" }).click();
  await page.locator(`#registrations-table tr[data-registration="${REGISTRATION}"][data-status="revoked"]`).waitFor();
  assert.match(await page.locator(`#registrations-table tr[data-registration="${REGISTRATION}"] .reg-reason`).textContent(), /The customer buys direct now/);
  assert.deepEqual(await axe(page), [], "axe on the vendor's registrations");
  assert.deepEqual(errors, []);

  // The partner reads who revoked it and why on its own Registrations page.
  const partnerPage = await context.newPage();
  partnerPage.setDefaultTimeout(20_000);
  partnerPage.on("pageerror", (e) => errors.push(e.message));
  await signIn(partnerPage, PARTNER, "paula");
  await partnerPage.getByRole("link", { name: "Registrations" }).first().click();
  const seen = partnerPage.locator(`#registrations-table tr[data-registration="${REGISTRATION}"][data-status="revoked"]`);
  await seen.waitFor();
  assert.match(await seen.locator(".reg-reason").textContent(), /revoked by Vendor Co: The customer buys direct now/);
  await partnerPage.screenshot({ path: path.join(SHOTS, "registration-revoked-partner.png"), fullPage: true });
  assert.deepEqual(await axe(partnerPage), [], "axe on the partner's registrations");
  // And reads who withdrew the deal, when and why, in place of its content.
  await partnerPage.goto(`${PARTNER}/#/deals/${DEAL}`);
  const tomb = partnerPage.locator("#deal-withdrawn");
  await tomb.waitFor();
  assert.match(await tomb.textContent(), /withdrawn by Vendor Co on \d{4}-\d{2}-\d{2}: The customer postponed the project/);
  await partnerPage.screenshot({ path: path.join(SHOTS, "deal-withdrawn-partner.png"), fullPage: true });
  assert.deepEqual(await axe(partnerPage), [], "axe on the partner's withdrawn deal");
  assert.deepEqual(errors, []);
});
