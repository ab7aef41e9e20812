// What the staff pages (the scanner, the dashboard) share: a sign-in with the OAuth2 password
// grant, its tokens kept in this tab's sessionStorage and refreshed before they lapse, API calls
// with a time limit, and a sign-out that revokes the tokens.
"use strict";
window.Staff = (function () {
  const TIMEOUT_MS = 4000;

  /** The server could not be reached in time, or the sign-in ended. */
  class Unavailable extends Error {}

  async function send(path, init) {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), TIMEOUT_MS);
    try {
      return await fetch(path, Object.assign({ cache: "no-store", signal: abort.signal }, init));
    } catch (e) {
      throw new Unavailable(String(e));
    } finally {
      clearTimeout(timer);
    }
  }

  function form(fields) {
    return { method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded" }, body: new URLSearchParams(fields) };
  }

  async function problem(res) {
    try {
      return (await res.json()).detail || res.statusText;
    } catch (e) {
      return res.statusText;
    }
  }

  // A sign-in kept in `state.session` (a reactive object of the page); `ended(message)` is called
  // when the server no longer accepts it.
  function sessions(state, keep, ended) {
    function signedIn(tokens) {
      state.session = { access: tokens.access_token, refresh: tokens.refresh_token, until: Date.now() + tokens.expires_in * 1000 };
      keep();
    }

    let refreshing = null;
    function refresh() {
      if (!refreshing) {
        refreshing = send("/oauth/token", form({ grant_type: "refresh_token", refresh_token: state.session.refresh }))
          .then(async (res) => {
            if (!res.ok) return false;
            signedIn(await res.json());
            return true;
          })
          .finally(() => (refreshing = null));
      }
      return refreshing;
    }

    // Signs in; answers null, or why not ("refused", "limited", "unavailable").
    async function signIn(email, password) {
      let res;
      try {
        res = await send("/oauth/token", form({ grant_type: "password", username: email, password }));
      } catch (e) {
        return "unavailable";
      }
      if (!res.ok) return res.status === 429 ? "limited" : res.status >= 500 ? "unavailable" : "refused";
      signedIn(await res.json());
      return null;
    }

    // An API call with the session's token, refreshed when about to lapse or refused once.
    async function api(method, path, body) {
      if (!state.session) throw new Unavailable("signed out");
      if (state.session.until - Date.now() < 30000) await refresh();
      const call = () =>
        send(path, {
          method,
          headers: Object.assign({ Authorization: "Bearer " + state.session.access }, body ? { "Content-Type": "application/json" } : {}),
          body: body ? JSON.stringify(body) : undefined,
        });
      let res = await call();
      if (res.status === 401 && (await refresh())) res = await call();
      if (res.status === 401) {
        ended();
        throw new Unavailable("signed out");
      }
      return res;
    }

    // Ends the sign-in here, and on the server: revoking the refresh token ends its access tokens.
    function signOut() {
      const tokens = state.session ? [state.session.refresh, state.session.access] : [];
      state.session = null;
      keep();
      for (const token of tokens) {
        if (token) send("/oauth/revoke", form({ token })).catch(() => {});
      }
    }

    return { signIn, api, signOut };
  }

  return { Unavailable, send, problem, sessions };
})();
