// What the smaller browser runs share (program-ui.mjs, lifecycle-ui.mjs): their COSELL_*
// settings, a Chromium profile removed after the run, and axe-core. Not named *.test.mjs.
import { after } from "node:test";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";

const AXE = fs.readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
export const CHROMIUM = process.env.COSELL_CHROMIUM || "/usr/bin/chromium";
export const SHOTS = process.env.COSELL_SCREENSHOTS || path.join(os.tmpdir(), "cosell-browser-screenshots");
fs.mkdirSync(SHOTS, { recursive: true });

/** The environment variable `name`, which the Rust test `runner` (its cargo test name) sets. */
export function env(name, runner) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run through \`cargo test -p cosell-e2e --test ${runner}\``);
  return v;
}

const profiles = [];
after(async () => {
  for (const { context, dir } of profiles) {
    await context.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

/** A browser with a fresh profile (removed after the run), 1280 px wide. */
export async function launch() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cosell-chromium-"));
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    viewport: { width: 1280, height: 900 },
    bypassCSP: true, // axe-core is injected as an inline script
  });
  profiles.push({ context, dir });
  return context;
}

/** axe-core's violations on `page`, one line each (the tests want none). */
export async function axe(page) {
  await page.addScriptTag({ content: AXE });
  return page.evaluate(async () => (await window.axe.run(document, { resultTypes: ["violations"] })).violations.map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(" | ")}`));
}
