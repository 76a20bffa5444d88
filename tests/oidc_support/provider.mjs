// A real OpenID provider for tests/oidc.rs: node-oidc-provider (OpenID Certified) with one
// client, three users and a minimal login page instead of its development interactions.
//
// Environment: OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, OIDC_REDIRECT_URI (attest's callback), and
// OIDC_MODE: "normal"; "expired" (ID tokens live 1 s); "wrong_aud" (the ID token the token
// endpoint returns is re-signed with the provider's own key for another audience, as a
// provider that mixed up its clients would send); "foreign_key" (re-signed with a key that is
// not in the provider's JWKS). Prints "listening <issuer>" once it serves.
//
// Users (the login is the account id; no password): alice (groups attest-admins, staff), aldo
// (attest-auditors), nora (staff only).
import http from 'node:http';
import Provider from 'oidc-provider';
import * as jose from 'jose';

const mode = process.env.OIDC_MODE || 'normal';
const clientId = process.env.OIDC_CLIENT_ID;
const clientSecret = process.env.OIDC_CLIENT_SECRET;
const redirectUri = process.env.OIDC_REDIRECT_URI;

const users = {
  alice: { name: 'Alice Admin', groups: ['attest-admins', 'staff'] },
  aldo: { name: 'Aldo Auditor', groups: ['attest-auditors'] },
  nora: { name: 'Nora Nobody', groups: ['staff'] },
};

const { privateKey } = await jose.generateKeyPair('RS256', { extractable: true });
const signingJwk = { ...(await jose.exportJWK(privateKey)), kid: 'test-key-1', alg: 'RS256', use: 'sig' };
const foreign = await jose.generateKeyPair('RS256', { extractable: true });

const server = http.createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    redirect_uris: [redirectUri],
    grant_types: ['authorization_code'],
    response_types: ['code'],
  }],
  jwks: { keys: [signingJwk] },
  cookies: { keys: ['attest-test-cookie-key'] },
  pkce: { required: () => true, methods: ['S256'] },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'groups'] },
  // The scope's claims in the ID token too (Entra puts groups and roles there).
  conformIdTokenClaims: false,
  features: { devInteractions: { enabled: false } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  ttl: {
    IdToken: mode === 'expired' ? 1 : 3600,
    AccessToken: 3600,
    AuthorizationCode: 60,
    Interaction: 600,
    Session: 3600,
    Grant: 3600,
  },
  async findAccount(ctx, id) {
    const user = users[id];
    if (!user) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: id, email: `${id}@example.test`, email_verified: true, name: user.name, groups: user.groups };
      },
    };
  },
  // First-party client: no consent screen (the grant covers what attest asks for).
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope('openid email profile');
    await grant.save();
    return grant;
  },
});

// Tampering with the ID token on its way out of the token endpoint, for the refusal tests.
provider.use(async (ctx, next) => {
  await next();
  if (ctx.path !== '/token' || !ctx.body || !ctx.body.id_token || mode === 'normal' || mode === 'expired') return;
  const claims = jose.decodeJwt(ctx.body.id_token);
  let key = privateKey;
  let kid = signingJwk.kid;
  if (mode === 'wrong_aud') claims.aud = 'some-other-client';
  if (mode === 'foreign_key') { key = foreign.privateKey; }
  ctx.body.id_token = await new jose.SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid }).sign(key);
});

const handle = provider.callback();

function readBody(req) {
  return new Promise((resolve, reject) => {
    let data = '';
    req.on('data', (chunk) => { data += chunk; if (data.length > 8192) req.destroy(); });
    req.on('end', () => resolve(new URLSearchParams(data)));
    req.on('error', reject);
  });
}

server.on('request', async (req, res) => {
  const match = req.url.match(/^\/interaction\/([^/?]+)(\/login)?/);
  if (!match) return handle(req, res);
  try {
    const details = await provider.interactionDetails(req, res);
    if (details.prompt.name === 'consent') {
      const grant = new provider.Grant({ clientId: details.params.client_id, accountId: details.session.accountId });
      grant.addOIDCScope(details.params.scope);
      const grantId = await grant.save();
      return await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
    }
    if (req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      return res.end(`<!doctype html><title>Sign in</title><form method="post" action="/interaction/${details.uid}/login"><input name="login"><button>Sign in</button></form>`);
    }
    const form = await readBody(req);
    const login = form.get('login');
    if (!users[login]) {
      res.writeHead(401, { 'content-type': 'text/plain' });
      return res.end('unknown user');
    }
    return await provider.interactionFinished(req, res, { login: { accountId: login } }, { mergeWithLastSubmission: false });
  } catch (err) {
    res.writeHead(500, { 'content-type': 'text/plain' });
    res.end(String(err && err.stack || err));
  }
});

console.log(`listening ${issuer}`);
