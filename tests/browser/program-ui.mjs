// The Program page in Chromium (started by tests/tests/program_browser.rs, which sets up a vendor
// with a program, a reseller with one certified person and one shared deal): the partner's tier
// and what the next tier lacks show, axe-core finds nothing, and the QBR pack's HTML opens in a
// new tab with its charts and is screenshotted. Not named *.test.mjs: browser.rs's suite runs
// those.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";

const PARTNER_URL = process.env.COSELL_PARTNER_URL;
const AXE = fs.readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run through \`cargo test -p cosell-e2e --test program_browser\``);
  return v;
};
const VENDOR = env("COSELL_VENDOR_URL");
const PARTNER_ID = env("COSELL_PARTNER_ID");
const PASSWORD = env("COSELL_PASSWORD");
const TOKEN = env("COSELL_VENDOR_TOKEN");
const OPPORTUNITY = env("COSELL_OPPORTUNITY_ID");
const CHROMIUM = process.env.COSELL_CHROMIUM || "/usr/bin/chromium";
const SHOTS = process.env.COSELL_SCREENSHOTS || path.join(os.tmpdir(), "cosell-browser-screenshots");
fs.mkdirSync(SHOTS, { recursive: true });

const profile = fs.mkdtempSync(path.join(os.tmpdir(), "cosell-chromium-"));
let context;
after(async () => {
  if (context) await context.close();
  fs.rmSync(profile, { recursive: true, force: true });
});

async function axe(page) {
  await page.addScriptTag({ content: AXE });
  return page.evaluate(async () => (await window.axe.run(document, { resultTypes: ["violations"] })).violations.map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(" | ")}`));
}

test("the Program page shows the partner's tier and opens its QBR pack", async () => {
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    viewport: { width: 1280, height: 900 },
    bypassCSP: true, // axe-core is injected as an inline script
  });
  const page = context.pages()[0] || (await context.newPage());
  page.setDefaultTimeout(20_000);
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(`${VENDOR}/`);
  await page.getByLabel("Username").fill("alice");
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.locator("#whoami").waitFor({ state: "attached" });
  await page.getByRole("link", { name: "Program" }).first().click();
  await page.getByRole("heading", { level: 1, name: "Partner program" }).waitFor();

  const row = page.locator(`#program-partners tr[data-partner="${PARTNER_ID}"]`);
  await row.waitFor();
  assert.equal(await row.getAttribute("data-tier"), "registered");
  assert.match(await row.locator("td.tier").textContent(), /registered/);
  // Silver needs a win and two certified people: one person is certified, nothing won yet.
  assert.match(await row.textContent(), /For silver:/);
  const certified = row.locator('.lack[data-metric="certified_people"] progress');
  assert.equal(await certified.getAttribute("value"), "1");
  assert.equal(await certified.getAttribute("max"), "2");
  assert.equal(await row.locator('.lack[data-metric="deals_won"]').count(), 1);
  assert.match(await row.locator(".health-explanation").textContent(), /score|no score yet/);
  // Analytics of this quarter: the shared deal's pipeline, charted as inline SVG.
  await page.locator("#program-analytics svg.chart").first().waitFor();
  assert.match(await page.locator("#program-analytics").textContent(), /Open pipeline by stage/);
  assert.match(await page.locator("#program-analytics svg.chart").first().getAttribute("aria-label"), /Reseller Co/);
  // The attestation issued by the test, revocable by an admin.
  await page.locator("#attestations-table tr", { hasText: "Jane Doe" }).waitFor();
  await page.screenshot({ path: path.join(SHOTS, "program-page.png"), fullPage: true });
  assert.deepEqual(await axe(page), [], "axe on the Program page");

  // The QBR pack: a new tab with the report, and its files offered as downloads.
  const [tab] = await Promise.all([context.waitForEvent("page"), row.getByRole("button", { name: /QBR pack/ }).click()]);
  await tab.waitForURL(/^blob:/);
  await tab.locator("h1").waitFor();
  assert.match(await tab.locator("h1").textContent(), /Reseller Co/);
  assert.ok((await tab.locator("svg").count()) > 0, "the report has inline SVG charts");
  await tab.screenshot({ path: path.join(SHOTS, "program-qbr-pack.png"), fullPage: true });
  await page.locator("#qbr-files a", { hasText: "qbr.html" }).waitFor();
  assert.ok((await page.locator("#qbr-files a").count()) > 1, "CSV files offered");

  // A second certified person through the form, then the deal won (through the API): the open
  // page shows silver when the node publishes program.tier_changed.
  const form = page.locator("#issue-attestation");
  await form.getByLabel("Person").fill("John Roe");
  await form.getByLabel("Partner", { exact: true }).selectOption(PARTNER_ID);
  await form.getByLabel("Certification").fill("Solutions Architect");
  await form.getByLabel("Level").fill("associate");
  await form.getByLabel("Valid until").fill("2099-12-31");
  await form.getByRole("button", { name: "Issue" }).click();
  await page.locator("#attestations-table tr", { hasText: "John Roe" }).waitFor();
  // Two people certified: silver lacks only the win now.
  await row.locator('.lack[data-metric="certified_people"]').waitFor({ state: "detached" });
  assert.equal(await row.locator('.lack[data-metric="deals_won"]').count(), 1);
  const won = await fetch(`${VENDOR}/api/v1/opportunities/${OPPORTUNITY}`, {
    method: "PATCH",
    headers: { Authorization: `Bearer ${TOKEN}`, "Content-Type": "application/json" },
    body: JSON.stringify({ stage: "launched" }),
  });
  assert.equal(won.status, 200, await won.text());
  await page.locator(`#program-partners tr[data-partner="${PARTNER_ID}"][data-tier="silver"]`).waitFor();
  // The QBR tab opened above: a page behind it waits for ever on its fonts to screenshot.
  await page.bringToFront();
  await page.screenshot({ path: path.join(SHOTS, "program-page-silver.png"), fullPage: true });
  assert.deepEqual(await axe(page), [], "axe after the tier change");

  // Revoking John Roe's certification (asked first) drops the partner back to registered.
  const john = page.locator("#attestations-table tr", { hasText: "John Roe" });
  await john.getByRole("button", { name: "Revoke" }).click();
  await john.getByRole("button", { name: "Yes, revoke" }).click();
  await page.locator("#attestations-table tr", { hasText: "John Roe" }).locator(".badge", { hasText: "revoked" }).waitFor();
  await page.locator(`#program-partners tr[data-partner="${PARTNER_ID}"][data-tier="registered"]`).waitFor();

  // An announcement from the vendor's inbox page to every partner.
  await page.getByRole("link", { name: /^Inbox/ }).first().click();
  await page.locator("#announce-form").waitFor();
  await page.getByLabel("Title").fill("Price list");
  await page.getByLabel("Text").fill("New prices from July.");
  await page.getByRole("button", { name: "Send", exact: true }).click();
  const sent = page.locator("#announcements-sent tr", { hasText: "Price list" });
  await sent.waitFor();
  assert.match(await sent.locator("td.read-count").textContent(), /0 of 1/);
  assert.deepEqual(await axe(page), [], "axe on the vendor's inbox with announcements");

  // The partner: unread on its inbox page, marked read; its own tier on its Program page.
  const partner = await context.newPage();
  await partner.bringToFront();
  partner.on("pageerror", (e) => errors.push(e.message));
  await partner.goto(`${PARTNER_URL}/`);
  await partner.getByLabel("Username").fill("bob");
  await partner.getByLabel("Password").fill(PASSWORD);
  await partner.getByRole("button", { name: "Sign in", exact: true }).click();
  await partner.locator("#whoami").waitFor({ state: "attached" });
  await partner.getByRole("link", { name: /^Inbox/ }).first().click();
  const got = partner.locator('#announcements-received tr[data-read="false"]', { hasText: "Price list" });
  await got.waitFor();
  assert.match(await partner.locator("#h-announcements").textContent(), /1 unread/);
  assert.deepEqual(await axe(partner), [], "axe on the partner's inbox with an unread announcement");
  await got.getByRole("button", { name: /Mark .* read/ }).click();
  await partner.locator('#announcements-received tr[data-read="true"]', { hasText: "Price list" }).waitFor();
  await partner.getByRole("link", { name: "Program" }).first().click();
  await partner.locator('#program-my-standing tr[data-tier="registered"]').waitFor();
  assert.deepEqual(await axe(partner), [], "axe on the partner's Program page");
  // The read receipt on the vendor's page.
  // Cookies do not tell ports apart: the partner's sign-in replaced the vendor's session.
  await page.bringToFront();
  await page.goto(`${VENDOR}/`);
  await page.getByLabel("Username").fill("alice");
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.locator("#whoami").waitFor({ state: "attached" });
  await page.getByRole("link", { name: /^Inbox/ }).first().click();
  await page.locator("#announcements-sent").waitFor();
  await page.locator("#announcements-sent tr", { hasText: "Price list" }).locator("td.read-count", { hasText: "1 of 1" }).waitFor();
  assert.deepEqual(errors, []);
});
