// Single sign-on in Chromium against a real OpenID provider (oidc-idp.mjs): started by
// tests/tests/sso.rs with a node whose cosell.toml has [oidc], [roles] and local_passwords =
// false. Not a `*.test.mjs` file, so the main browser suite (`node --test .`) leaves it alone.
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
const NODE = env("COSELL_URL");
const IDP = env("COSELL_IDP");
const SCIM = env("COSELL_SCIM_TOKEN");
const CHROMIUM = process.env.COSELL_CHROMIUM || "/usr/bin/chromium";
const SHOTS = process.env.COSELL_SCREENSHOTS || path.join(os.tmpdir(), "cosell-sso-screenshots");
fs.mkdirSync(SHOTS, { recursive: true });
const WAIT = 20_000;
const contexts = [];

async function newBrowser() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cosell-chromium-"));
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    viewport: { width: 1280, height: 900 },
    bypassCSP: true, // axe-core is injected inline
  });
  contexts.push({ context, dir });
  const page = context.pages()[0] || (await context.newPage());
  page.setDefaultTimeout(WAIT);
  return page;
}

after(async () => {
  for (const { context, dir } of contexts) {
    await context.close().catch(() => {});
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

async function mode(m) {
  const r = await fetch(`${IDP}/__test/mode?m=${m}`);
  assert.equal(r.status, 200);
}

async function axeClean(page, name) {
  await page.screenshot({ path: path.join(SHOTS, `sso-${name}.png`), fullPage: true });
  await page.addScriptTag({ content: AXE });
  const found = await page.evaluate(async () => (await window.axe.run(document, { resultTypes: ["violations"] })).violations.map((v) => `${v.id}: ${v.help}`));
  assert.deepEqual(found, [], `axe on ${name}`);
}

/** Clicks "Sign in with …" on the node and signs in at the provider as `user`. */
async function ssoSignIn(page, user) {
  await page.goto(NODE + "/");
  const button = page.locator("#sso-button");
  await button.waitFor();
  await page.locator("#sso-button").click();
  await page.waitForURL((u) => u.href.startsWith(IDP));
  await page.fill('input[name="login"]', user);
  await page.fill('input[name="password"]', "any password");
  await page.click("button[type=submit]");
}

/** Who the browser's session is, from the node's API (null when signed out). */
async function whoami(page) {
  return page.evaluate(async () => {
    const r = await fetch("/api/v1/session");
    return r.status === 200 ? r.json() : null;
  });
}

async function signedInAs(page, user, role) {
  await page.locator("#signout").waitFor();
  const me = await whoami(page);
  assert.equal(me?.username, user);
  assert.equal(me?.role, role);
}

async function refused(page, text) {
  const msg = page.locator("#sso-message");
  await msg.waitFor();
  const said = await msg.textContent();
  assert.ok(said.includes(text), `expected "${text}" in "${said}"`);
  assert.equal(await whoami(page), null, "no session after a refused sign-in");
  return said;
}

test("the sign-in page offers single sign-on and no password form when local passwords are off", async () => {
  const page = await newBrowser();
  await page.goto(NODE + "/");
  await page.locator("#sso-button").waitFor();
  assert.equal(await page.locator("#sso-button").textContent(), "Sign in with Test IdP");
  assert.equal(await page.locator("#signin-form").isVisible(), false);
  await axeClean(page, "sign-in");
});

test("a good sign-in lands in cosell as the role the provider's group gives; sign-out ends both sessions", async () => {
  const page = await newBrowser();
  await ssoSignIn(page, "ana");
  await signedInAs(page, "ana", "admin");
  await axeClean(page, "signed-in");
  await page.locator("#signout").click();
  // RP-initiated logout: the provider asks to confirm, then sends the browser back.
  await page.waitForURL((u) => u.href.startsWith(IDP));
  await page.click('button[name="logout"]');
  await page.waitForURL((u) => u.href.startsWith(NODE));
  await page.locator("#sso-button").waitFor();
  assert.equal(await whoami(page), null);
  // The provider's session ended too: signing in again asks for the login.
  await page.locator("#sso-button").click();
  await page.locator('input[name="login"]').waitFor();
});

test("groups map to roles, and a user in no mapped group is refused", async () => {
  const vic = await newBrowser();
  await ssoSignIn(vic, "vic");
  await signedInAs(vic, "vic", "viewer");
  const nog = await newBrowser();
  await ssoSignIn(nog, "nog");
  await refused(nog, "none of your groups");
  await axeClean(nog, "refused");
});

test("a token for another audience, an expired token and a wrong nonce are each refused, saying why", async () => {
  for (const [m, text] of [["wrong_aud", "wrong audience"], ["expired", "expired"], ["bad_nonce", "nonce"]]) {
    await mode(m);
    const page = await newBrowser();
    await ssoSignIn(page, "ana");
    const said = await refused(page, text);
    assert.ok(!/eyJ|kid|jwks|panic/i.test(said), `no internals in "${said}"`);
  }
  await mode("normal");
});

async function jwksFetches() {
  return (await (await fetch(`${IDP}/__test/stats`)).json()).jwks_fetches;
}

test("after the provider rotates its keys, sign-in still works (the new key set is fetched once)", async () => {
  const before = await jwksFetches();
  assert.ok(before >= 1, "earlier sign-ins fetched the key set");
  await mode("rotate");
  const page = await newBrowser();
  await ssoSignIn(page, "vic");
  await signedInAs(page, "vic", "viewer");
  assert.equal(await jwksFetches(), before + 1, "the unknown kid made the node fetch the key set again");
  // The rotated key is cached now: the next sign-in fetches nothing.
  const again = await newBrowser();
  await ssoSignIn(again, "ana");
  await signedInAs(again, "ana", "admin");
  assert.equal(await jwksFetches(), before + 1);
  await mode("normal");
});

test("a callback this browser did not start is refused (state)", async () => {
  const page = await newBrowser();
  await page.goto(`${NODE}/auth/oidc/callback?code=stolen&state=made-up`);
  await refused(page, "not started in this browser");
});

test("SCIM: a provisioned user gets the role of their SCIM group; deactivated, their session ends and sign-in is refused", async () => {
  const scim = async (method, p, body) => {
    const r = await fetch(`${NODE}/scim/v2${p}`, { method, headers: { Authorization: `Bearer ${SCIM}`, "Content-Type": "application/scim+json" }, body: body && JSON.stringify(body) });
    return { status: r.status, json: r.status === 204 ? null : await r.json() };
  };
  const user = await scim("POST", "/Users", { schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"], userName: "sue", active: true });
  assert.equal(user.status, 201, JSON.stringify(user.json));
  const group = await scim("POST", "/Groups", { schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"], displayName: "cosell-admins", members: [{ value: user.json.id }] });
  assert.equal(group.status, 201, JSON.stringify(group.json));
  // At the provider sue is in no group: the role comes from SCIM.
  const page = await newBrowser();
  await ssoSignIn(page, "sue");
  await signedInAs(page, "sue", "admin");
  const off = await scim("PATCH", `/Users/${user.json.id}`, { schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], Operations: [{ op: "replace", path: "active", value: false }] });
  assert.equal(off.status, 200);
  assert.equal(off.json.active, false);
  assert.equal(await whoami(page), null, "the deactivated user's session ended");
  const again = await newBrowser();
  await ssoSignIn(again, "sue");
  await refused(again, "deactivated");
});
