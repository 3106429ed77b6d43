// Hosted workspaces in Chromium, started by tests/tests/sso.rs (`hosted_workspaces_each_have_
// their_own_sso_and_scim`) with a host whose workspaces `acme` and `beta` each have their own
// client at the test OpenID provider (oidc-idp.mjs). Not a `*.test.mjs` file, so the main
// browser suite (`node --test .`) leaves it alone.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";

const AXE = fs.readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run this through \`cargo test --test sso\``);
  return v;
}
const HOST = env("COSELL_HOST");
const ONBOARDING = env("COSELL_ONBOARDING");
const IDP = env("COSELL_IDP");
const CHROMIUM = process.env.COSELL_CHROMIUM || "/usr/bin/chromium";
const SHOTS = process.env.COSELL_SCREENSHOTS || path.join(os.tmpdir(), "cosell-workspace-screenshots");
fs.mkdirSync(SHOTS, { recursive: true });
const ACME = `${HOST}/w/acme`;
const BETA = `${HOST}/w/beta`;
let browser;

async function newPage() {
  browser ??= await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  // A context of its own: no cookie of one test reaches another.
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, bypassCSP: true });
  const page = await context.newPage();
  page.setDefaultTimeout(20_000);
  return page;
}

after(async () => {
  await browser?.close().catch(() => {});
});

async function axeClean(page, name) {
  await page.screenshot({ path: path.join(SHOTS, `workspace-${name}.png`), fullPage: true });
  await page.addScriptTag({ content: AXE });
  const found = await page.evaluate(async () => (await window.axe.run(document, { resultTypes: ["violations"] })).violations.map((v) => `${v.id}: ${v.help}`));
  assert.deepEqual(found, [], `axe on ${name}`);
}

/** Who the browser is in workspace `base` (null when it has no session there). */
async function whoami(page, base) {
  return page.evaluate(async (url) => {
    const r = await fetch(`${url}/api/v1/session`);
    return r.status === 200 ? r.json() : null;
  }, base);
}

test("the onboarding link: the first user sets a password and is signed in to the workspace as its admin", async () => {
  const page = await newPage();
  await page.goto(ONBOARDING);
  const form = page.locator("#onboarding-form");
  await form.waitFor();
  assert.equal(await page.locator("h1").first().textContent(), "Set up your workspace");
  await axeClean(page, "onboarding");
  await form.locator('input[name="username"]').fill("owner");
  await form.locator('input[name="password"]').fill("acme owner password");
  await form.locator('button[type="submit"]').click();
  await page.locator("#signout").waitFor();
  assert.ok(page.url().startsWith(`${ACME}/`), page.url());
  const me = await whoami(page, ACME);
  assert.equal(me?.username, "owner");
  assert.equal(me?.role, "admin");
  assert.equal(await whoami(page, BETA), null, "signed in to acme only");
  await axeClean(page, "onboarded");
  // The link works once.
  const again = await newPage();
  await again.goto(ONBOARDING);
  await again.locator("#onboarding-form button[type=submit]").waitFor();
  await again.locator('#onboarding-form input[name="username"]').fill("intruder");
  await again.locator('#onboarding-form input[name="password"]').fill("another password");
  await again.locator("#onboarding-form button[type=submit]").click();
  await again.locator("#onboarding-error .error, #onboarding-error [role=alert]").first().waitFor();
  assert.equal(await whoami(again, ACME), null);
});

/** Clicks "Sign in with …" in workspace `base` and signs in at the provider as `user`. */
async function ssoSignIn(page, base, user) {
  await page.goto(`${base}/`);
  await page.locator("#sso-button").click();
  await page.waitForURL((u) => u.href.startsWith(IDP));
  await page.fill('input[name="login"]', user);
  await page.fill('input[name="password"]', "any password");
  await page.click("button[type=submit]");
}

test("single sign-on in a workspace signs in to that workspace only", async () => {
  const page = await newPage();
  await ssoSignIn(page, BETA, "ana");
  await page.locator("#signout").waitFor();
  assert.ok(page.url().startsWith(`${BETA}/`), page.url());
  const me = await whoami(page, BETA);
  assert.equal(me?.username, "ana");
  assert.equal(me?.role, "admin");
  assert.equal(await whoami(page, ACME), null, "beta's sign-in is no session in acme");
});

test("a provider's answer for one workspace, taken to another's callback, signs in nothing there", async () => {
  const page = await newPage();
  // (A redirect's target cannot be intercepted: the answer is read on its way to beta.)
  const answer = page.waitForRequest((r) => r.url().startsWith(`${BETA}/auth/oidc/callback?`));
  await ssoSignIn(page, BETA, "ana");
  const callback = (await answer).url();
  assert.match(callback, /[?&]code=/);
  await page.locator("#signout").waitFor();
  await page.goto(callback.replace("/w/beta/", "/w/acme/"));
  const msg = page.locator("#sso-message");
  await msg.waitFor();
  assert.match(await msg.textContent(), /not started in this browser/);
  assert.equal(await whoami(page, ACME), null, "no session in acme");
  assert.equal((await whoami(page, BETA))?.username, "ana", "beta's own sign-in stands");
  await axeClean(page, "refused-across");
});
