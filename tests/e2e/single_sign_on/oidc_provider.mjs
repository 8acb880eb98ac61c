// A real OpenID Connect provider for the single sign-on test: the certified `oidc-provider`
// package (npm, pinned in package-lock.json), on 127.0.0.1 only, with one client (the
// gateway) and two users:
//   admin-user  groups [platform]        -> teamgate admin
//   lead-user   groups [chatbot-leads]   -> team admin of chatbot
// Its development login form takes the user name as the login and any password.
// Usage: node oidc_provider.mjs ISSUER REDIRECT_URI CLIENT_ID CLIENT_SECRET
// Prints "ready" once it listens; stops on SIGTERM.
import { generateKeyPair, exportJWK } from 'jose';
import Provider from 'oidc-provider';

const [issuer, redirectUri, clientId, clientSecret] = process.argv.slice(2);
const { port, hostname } = new URL(issuer);
if (hostname !== '127.0.0.1') throw new Error('the test provider listens on 127.0.0.1 only');

const { privateKey } = await generateKeyPair('RS256', { extractable: true });
const signingKey = { ...(await exportJWK(privateKey)), kid: 'e2e-1', alg: 'RS256', use: 'sig' };
const users = {
  'admin-user': { email: 'admin@example.com', groups: ['platform'] },
  'lead-user': { email: 'lead@example.com', groups: ['chatbot-leads'] },
};

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: clientId,
      client_secret: clientSecret,
      redirect_uris: [redirectUri],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  jwks: { keys: [signingKey] },
  cookies: { keys: ['teamgate-sso-test-cookie-key'] },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], groups: ['groups'] },
  conformIdTokenClaims: false, // the ID token carries the scopes' claims (email, groups)
  features: { devInteractions: { enabled: true } },
  async findAccount(ctx, id) {
    const user = users[id];
    if (!user) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: id, email_verified: true, ...user };
      },
    };
  },
});

const server = provider.listen(Number(port), '127.0.0.1', () => console.log('ready'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
