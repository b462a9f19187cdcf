// A real OpenID provider for the tests: the certified `oidc-provider` package, on a free loopback port.
//
//   node tests/oidc_provider/provider.mjs CONFIG.json
//
// CONFIG.json: {"issuer": optional (default: the address it listens on), "clock_offset_seconds": optional,
//   "id_token_ttl_seconds": optional (default 3600),
//   "clients": [{"client_id", "client_secret", "redirect_uris": [...]}],
//   "users_file": path of {"LOGIN": {"password", "email", "email_verified", "groups": [...], "name"}}}
// The users file is read again at every log-in and token, so a test can change someone's groups in between.
// Prints one line, {"url": "http://127.0.0.1:PORT"}, once it listens. Log-in is a plain HTML form at
// /interaction/<uid> (the provider's own page for these tests); consent is granted automatically.

import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));

// A provider with a wrong clock (for expired-token tests): every time it reads is shifted.
if (config.clock_offset_seconds) {
  const realNow = Date.now.bind(Date);
  Date.now = () => realNow() + config.clock_offset_seconds * 1000;
}

const { default: Provider } = await import('oidc-provider');

function users() {
  return JSON.parse(readFileSync(config.users_file, 'utf8'));
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}

async function readForm(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 65536) throw new Error('form too large');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function loginPage(res, uid, message) {
  res.writeHead(message ? 400 : 200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
  res.end(`<!doctype html><html lang="en"><head><title>Council sign-in (test provider)</title></head><body><main>
<h1>Council sign-in</h1>${message ? `<p role="alert">${escapeHtml(message)}</p>` : ''}
<form method="post" action="/interaction/${escapeHtml(uid)}/login">
<label for="login">Username</label> <input id="login" name="login" autocomplete="username">
<label for="password">Password</label> <input id="password" name="password" type="password" autocomplete="current-password">
<button type="submit">Sign in</button></form></main></body></html>`);
}

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), use: 'sig', alg: 'RS256' };

const server = createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const url = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(config.issuer || url, {
  clients: config.clients.map((client) => ({
    client_id: client.client_id,
    client_secret: client.client_secret,
    redirect_uris: client.redirect_uris,
    response_types: ['code'],
    grant_types: ['authorization_code'],
    token_endpoint_auth_method: 'client_secret_basic',
  })),
  jwks: { keys: [signingKey] },
  cookies: { keys: [randomUUID()] },
  pkce: { required: () => true }, // the app must use PKCE, or this provider refuses it
  conformIdTokenClaims: false, // e-mail and groups in the ID token itself, as Entra ID does
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'groups'] },
  features: { devInteractions: { enabled: false } },
  ...(config.id_token_ttl_seconds ? { ttl: { IdToken: config.id_token_ttl_seconds } } : {}),
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, id) {
    const user = users()[id];
    if (!user) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: id, email: user.email, email_verified: user.email_verified ?? true, name: user.name,
                 groups: user.groups || [] };
      },
    };
  },
});
provider.proxy = false;

const handle = provider.callback();
server.on('request', async (req, res) => {
  const match = /^\/interaction\/([^/?]+)(\/login)?/.exec(req.url);
  if (!match) return handle(req, res);
  try {
    const details = await provider.interactionDetails(req, res);
    if (details.prompt.name === 'consent') {
      const grant = new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
      grant.addOIDCScope(String(details.params.scope));
      const grantId = await grant.save();
      return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
    }
    if (!match[2] || req.method !== 'POST') return loginPage(res, details.uid);
    const form = await readForm(req);
    const user = users()[form.get('login') || ''];
    if (!user || user.password !== form.get('password')) return loginPage(res, details.uid, 'Wrong username or password.');
    return provider.interactionFinished(req, res, { login: { accountId: form.get('login') } }, { mergeWithLastSubmission: false });
  } catch (error) {
    res.writeHead(400, { 'Content-Type': 'text/plain' });
    res.end(`interaction failed: ${error.name}`);
  }
});

process.stdout.write(`${JSON.stringify({ url })}\n`);
process.on('SIGTERM', () => server.close(() => process.exit(0)));
