// What the staff pages (the scanner, the dashboard) share: a sign-in with the OAuth2 password
// grant, its tokens kept in this tab's sessionStorage and refreshed before they lapse, API calls
// that answer within a deadline (the body read too), and a sign-out that revokes the tokens.
"use strict";
window.Staff = (function () {
  const TIMEOUT_MS = 4000;
  // A refresh has its own time, whatever its callers' deadlines: the server rotates the refresh
  // token when it answers, so an answer abandoned half-way would leave this page with a spent one.
  const REFRESH_MS = 15000;

  /** The server could not be reached, or did not answer, in time. */
  class Unavailable extends Error {}

  /** The sign-in is over (refused by the server, or ended here). */
  class SignedOut extends Unavailable {}

  // Fetches `path` and reads its whole body before `deadline` (a time from Date.now()). The
  // answer: {status, ok, data, date}, data being the JSON body (null when empty or not JSON), or
  // the body as a Blob when `blob` and the status is a success; date the server's clock then (ms,
  // from its `Date` header; null without one).
  async function send(path, init, deadline, blob) {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), Math.max(0, deadline - Date.now()));
    try {
      const res = await fetch(path, Object.assign({ cache: "no-store", signal: abort.signal }, init));
      let data = null;
      if (blob && res.ok) {
        data = await res.blob();
      } else {
        const text = await res.text();
        try {
          data = text ? JSON.parse(text) : null;
        } catch (e) {
          data = null;
        }
      }
      const date = Date.parse(res.headers.get("Date") || "");
      return { status: res.status, ok: res.ok, data, date: Number.isNaN(date) ? null : date };
    } catch (e) {
      throw new Unavailable(String(e));
    } finally {
      clearTimeout(timer);
    }
  }

  function form(fields) {
    return { method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded" }, body: new URLSearchParams(fields) };
  }

  /** A refusal's words: the problem's detail, else its status. */
  function problem(answer) {
    return (answer.data && typeof answer.data.detail === "string" && answer.data.detail) || "HTTP " + answer.status;
  }

  // A sign-in kept in `state.session` (a reactive object of the page); `keep()` saves the page's
  // state; `ended()` is called when the server no longer accepts the sign-in.
  function sessions(state, keep, ended) {
    function signedIn(tokens) {
      state.session = { access: tokens.access_token, refresh: tokens.refresh_token, until: Date.now() + tokens.expires_in * 1000 };
      keep();
    }

    // Answers true (new tokens) or false (the server refused: the sign-in is over); throws
    // Unavailable when the server did not answer, SignedOut when the sign-in ended here meanwhile.
    // One refresh at a time per sign-in, shared by its callers.
    let refreshing = null;
    function refresh() {
      const session = state.session;
      if (!session) return Promise.reject(new SignedOut("signed out"));
      if (!refreshing || refreshing.session !== session) {
        const promise = send("/oauth/token", form({ grant_type: "refresh_token", refresh_token: session.refresh }), Date.now() + REFRESH_MS)
          .then((answer) => {
            if (state.session !== session) throw new SignedOut("signed out meanwhile");
            if (answer.ok && answer.data && answer.data.access_token) {
              signedIn(answer.data);
              return true;
            }
            if (answer.status === 400 || answer.status === 401) return false;
            throw new Unavailable("the refresh was not answered: HTTP " + answer.status);
          })
          .finally(() => {
            if (refreshing && refreshing.promise === promise) refreshing = null;
          });
        refreshing = { session, promise };
      }
      return refreshing.promise;
    }

    // `promise`, or Unavailable once `deadline` has passed (the promise goes on regardless).
    function within(promise, deadline) {
      let timer;
      const late = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Unavailable("no answer in time")), Math.max(0, deadline - Date.now()));
      });
      return Promise.race([promise, late]).finally(() => clearTimeout(timer));
    }

    function over() {
      ended();
      return new SignedOut("the sign-in is over");
    }

    // Signs in; answers null, or why not ("refused", "limited", "unavailable").
    async function signIn(email, password) {
      let answer;
      try {
        answer = await send("/oauth/token", form({ grant_type: "password", username: email, password }), Date.now() + TIMEOUT_MS);
      } catch (e) {
        return "unavailable";
      }
      if (answer.ok && answer.data && answer.data.access_token) {
        signedIn(answer.data);
        return null;
      }
      return answer.status === 429 ? "limited" : answer.status >= 500 || answer.ok ? "unavailable" : "refused";
    }

    // An API call with the session's token, within one deadline for all of it (`options.timeout`
    // ms, 4 s by default): the token is refreshed first when about to lapse, and once more when
    // refused. `options.blob` reads a successful body as a Blob.
    async function api(method, path, body, options) {
      const deadline = Date.now() + ((options && options.timeout) || TIMEOUT_MS);
      if (!state.session) throw new SignedOut("signed out");
      if (state.session.until - Date.now() < 30000) {
        try {
          if (!(await within(refresh(), deadline))) throw over();
        } catch (e) {
          // A token still valid is used while the server cannot refresh it.
          if (e instanceof SignedOut || !state.session || state.session.until <= Date.now()) throw e;
        }
      }
      const call = () => {
        if (!state.session) throw new SignedOut("signed out");
        const headers = { Authorization: "Bearer " + state.session.access };
        if (body) headers["Content-Type"] = "application/json";
        return send(path, { method, headers, body: body ? JSON.stringify(body) : undefined }, deadline, options && options.blob);
      };
      let answer = await call();
      if (answer.status === 401) {
        if (!(await within(refresh(), deadline))) throw over();
        answer = await call();
        if (answer.status === 401) throw over();
      }
      return answer;
    }

    // Ends the sign-in here, and on the server: revoking the refresh token ends its access tokens.
    function signOut() {
      const tokens = state.session ? [state.session.refresh, state.session.access] : [];
      state.session = null;
      keep();
      for (const token of tokens) {
        if (token) send("/oauth/revoke", form({ token }), Date.now() + TIMEOUT_MS).catch(() => {});
      }
    }

    return { signIn, api, signOut };
  }

  return { problem, sessions };
})();
