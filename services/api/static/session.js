// One sign-in for both pages (the board and the driver's page): Cognito's InitiateAuth from the browser.
// The refresh token is kept in localStorage for the shift (the app client lets it live 12 hours), so a
// reload, a phone that killed the tab or an ID token's hour running out never asks for the password
// again; the ID token itself lives in memory only. No token ever goes into a URL or a log.
"use strict";

const Session = (() => {
  const KEY = "driver-routing.session";
  const EARLY_MS = 60 * 1000; // refresh a minute before the ID token's expiry
  let config = null;
  let current = null; // { idToken, accessToken, expiresAt, claims }

  class SignedOut extends Error {}

  function configure(pageConfig) { config = pageConfig; }

  async function cognito(action, body) {
    const answer = await fetch(config.cognito_endpoint, {
      method: "POST",
      headers: { "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": `AWSCognitoIdentityProviderService.${action}` },
      body: JSON.stringify(body),
    });
    const result = await answer.json().catch(() => ({}));
    if (!answer.ok) {
      // Cognito says a refresh token is no longer good with NotAuthorizedException; anything else (a
      // throttle, a 5xx) leaves the session as it is.
      const type = String(result.__type || "");
      const Kind = type.includes("NotAuthorized") || type.includes("UserNotFound") ? SignedOut : Error;
      throw new Kind(result.message || type || `HTTP ${answer.status}`);
    }
    return result;
  }

  function claimsOf(token) {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const text = atob(part.padEnd(part.length + ((4 - (part.length % 4)) % 4), "="));
    return JSON.parse(decodeURIComponent(escape(text)));
  }

  function keep(result) {
    const auth = result.AuthenticationResult;
    if (!auth) throw new SignedOut(`sign-in needs a further step: ${result.ChallengeName || "unknown"}`);
    current = { idToken: auth.IdToken, accessToken: auth.AccessToken, claims: claimsOf(auth.IdToken), expiresAt: Date.now() + (auth.ExpiresIn || 3600) * 1000 };
    // Who signed in is kept beside the refresh token, so the page knows its driver without signal.
    const refreshToken = auth.RefreshToken || (stored() || {}).refreshToken;
    localStorage.setItem(KEY, JSON.stringify({ refreshToken, claims: current.claims }));
    return current.claims;
  }

  async function signIn(username, password) {
    return keep(await cognito("InitiateAuth", { AuthFlow: "USER_PASSWORD_AUTH", ClientId: config.client_id, AuthParameters: { USERNAME: username, PASSWORD: password } }));
  }

  function stored() {
    try { return JSON.parse(localStorage.getItem(KEY) || "null"); } catch { return null; }
  }

  function hasSession() { return Boolean(current || stored()); }

  // A fresh ID token: the one in memory, or a new one from the refresh token. Throws SignedOut when the
  // session has ended (refresh token expired or revoked); any other error is the network's.
  async function idToken() {
    if (current && Date.now() < current.expiresAt - EARLY_MS) return current.idToken;
    const saved = stored();
    if (!saved) throw new SignedOut("signed out");
    try {
      keep(await cognito("InitiateAuth", { AuthFlow: "REFRESH_TOKEN_AUTH", ClientId: config.client_id, AuthParameters: { REFRESH_TOKEN: saved.refreshToken } }));
    } catch (error) {
      if (error instanceof SignedOut) forget();
      throw error;
    }
    return current.idToken;
  }

  // The page calls this when the API answered 401: the ID token in memory is no longer good.
  function expire() { if (current) current.expiresAt = 0; }

  async function claims() { await idToken(); return current.claims; }

  // The signed-in user's claims as last seen, without asking Cognito (for a page opened offline).
  function knownClaims() { return (current && current.claims) || (stored() || {}).claims || null; }

  function groups(claimSet) {
    const value = claimSet["cognito:groups"] || [];
    return Array.isArray(value) ? value : String(value).replace(/^\[|\]$/g, "").split(/[\s,]+/).filter(Boolean);
  }

  function forget() { current = null; localStorage.removeItem(KEY); }

  async function signOut() {
    const access = current && current.accessToken;
    forget();
    // Ends every refresh token of the user: a phone left at the depot cannot be used to sign in again.
    if (access) await cognito("GlobalSignOut", { AccessToken: access }).catch(() => {});
  }

  // Who the board is for, and who the driver's page is for: each sends the other's people across.
  function isDriver(claimSet) { const g = groups(claimSet); return g.includes("drivers") && !g.includes("dispatchers"); }
  function isDispatcher(claimSet) { return groups(claimSet).includes("dispatchers"); }

  return { configure, signIn, hasSession, idToken, expire, claims, knownClaims, groups, isDriver, isDispatcher, signOut, SignedOut };
})();
