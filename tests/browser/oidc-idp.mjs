// A real OpenID provider for tests/tests/sso.rs: `oidc-provider` (the certified Node
// implementation) on 127.0.0.1, port 0, reached as http://localhost:PORT (another site than the
// node at 127.0.0.1, as a real IdP is). Protocol on stdio:
//   prints {"port": P}; reads one JSON line {"redirect_uri", "post_logout_redirect_uri"} (the
//   client "cosell"), or {"clients": [{"client_id", "redirect_uri", "post_logout_redirect_uri"}]}
//   (one client per hosted workspace, same secret); prints {"issuer": ...} when ready.
// Test users (any password): ana (group cosell-admins), vic (staff), nog (no group), sue (no
// group; SCIM gives her one).
// GET /__test/stats counts the JWKS fetches. A control route, GET /__test/mode?m=MODE, makes the next ID tokens go wrong in one way each —
// re-signed with the provider's own (or a rotated) key, so only the claim under test is off:
//   normal | wrong_aud | expired | bad_nonce | rotate (a new key with a new kid, published in
//   the JWKS from then on, signs every later token)
import http from "node:http";
import readline from "node:readline";
import Provider from "oidc-provider";
import * as jose from "jose";

const GROUPS = { ana: ["cosell-admins"], vic: ["staff"], nog: [], sue: [] };

const server = http.createServer();
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const port = server.address().port;
const issuer = `http://localhost:${port}`;
console.log(JSON.stringify({ port }));

const lines = readline.createInterface({ input: process.stdin });
const first = await new Promise((resolve) => lines.once("line", resolve));
const asked = JSON.parse(first);
const wanted = asked.clients || [{ client_id: "cosell", ...asked }];

async function newKey(kid) {
  const { privateKey } = await jose.generateKeyPair("RS256", { extractable: true });
  const jwk = await jose.exportJWK(privateKey);
  return { ...jwk, kid, alg: "RS256", use: "sig" };
}
const original = await newKey("k1");
let rotated = null;
let mode = "normal";
let jwksFetches = 0;

const provider = new Provider(issuer, {
  clients: wanted.map((c) => ({
    client_id: c.client_id,
    client_secret: "cosell-test-secret",
    redirect_uris: [c.redirect_uri],
    post_logout_redirect_uris: [c.post_logout_redirect_uri],
    grant_types: ["authorization_code"],
    response_types: ["code"],
    token_endpoint_auth_method: "client_secret_basic",
  })),
  jwks: { keys: [original] },
  claims: {
    openid: ["sub"],
    email: ["email", "email_verified"],
    profile: ["preferred_username", "name"],
    groups: ["groups"],
  },
  scopes: ["openid", "email", "profile", "groups"],
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: true } },
  cookies: { keys: ["cosell-test-cookie-key"] },
  async findAccount(ctx, id) {
    if (!(id in GROUPS)) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: `sub-${id}`, preferred_username: id, email: `${id}@example.com`, email_verified: true, name: id, groups: GROUPS[id] };
      },
    };
  },
  // First-party client: no consent screen.
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope("openid email profile groups");
    await grant.save();
    return grant;
  },
});
provider.on("server_error", (ctx, err) => console.error("idp server_error", err));

// Token answers: re-sign the ID token with the claim under test changed.
provider.use(async (ctx, next) => {
  if (ctx.path === "/__test/mode") {
    mode = ctx.query.m || "normal";
    if (mode === "rotate" && !rotated) rotated = await newKey("k2");
    ctx.body = { mode };
    return;
  }
  if (ctx.path === "/__test/stats") {
    ctx.body = { jwks_fetches: jwksFetches };
    return;
  }
  await next();
  if (ctx.path === "/jwks") jwksFetches += 1;
  if (ctx.path === "/jwks" && rotated && ctx.body?.keys) {
    const { d, p, q, dp, dq, qi, ...pub } = rotated;
    ctx.body = { keys: [...ctx.body.keys, pub] };
  }
  if (ctx.path === "/token" && ctx.body?.id_token && mode !== "normal") {
    const claims = jose.decodeJwt(ctx.body.id_token);
    const now = Math.floor(Date.now() / 1000);
    if (mode === "wrong_aud") claims.aud = "another-app";
    if (mode === "expired") Object.assign(claims, { iat: now - 3600, exp: now - 1800 });
    if (mode === "bad_nonce") claims.nonce = "not-the-nonce-cosell-sent";
    const key = mode === "rotate" ? rotated : original;
    ctx.body = {
      ...ctx.body,
      id_token: await new jose.SignJWT(claims).setProtectedHeader({ alg: "RS256", kid: key.kid }).sign(await jose.importJWK(key, "RS256")),
    };
  }
});

server.on("request", provider.callback());
console.log(JSON.stringify({ issuer }));
lines.on("close", () => process.exit(0));
