/* Shared by every page: configuration, the catalogue, the JSON API, and the live connection.
 *
 * live() keeps one WebSocket to the push server. It remembers the last offset and epoch it
 * applied and reconnects with them (jittered exponential back-off), so the server replays what
 * was missed or sends a fresh snapshot. A gap in offsets, or a ping announcing an offset we never
 * got, drops the socket and resumes the same way: a screen never keeps a stale call. A "reload"
 * frame (the clinic's configuration changed) loads the page again.
 *
 * A page that cannot work says so over everything it shows (dead(), styled in base.css): at once
 * when the server refuses its token (the socket's 44xx close, or a 401 from the API), and on the
 * pages that ask for it (the waiting-room screen) after DEAD_AFTER_MS without a live connection.
 */
(function () {
  "use strict";
  const cfg = JSON.parse(document.getElementById("cq-config").textContent);
  const params = new URLSearchParams(location.search);
  const token = params.get("token") || "";
  const M = cfg.messages;

  const numbers = new Intl.NumberFormat(M.lang);
  const plurals = new Intl.PluralRules(M.lang);

  // A message with plural forms is kept as key_one, key_few, key_many, key_other (CLDR
  // categories, as many as the language has); vars.count chooses among them.
  function pick(key, vars) {
    if (M[key] !== undefined) return M[key];
    if (M[key + "_other"] === undefined) return key;
    const count = vars && typeof vars.count === "number" ? vars.count : NaN;
    return M[key + "_" + plurals.select(count)] || M[key + "_other"];
  }

  function t(key, vars) {
    let s = pick(key, vars);
    for (const k in vars || {}) {
      const v = vars[k];
      s = s.split("{" + k + "}").join(typeof v === "number" && Number.isFinite(v) ? numbers.format(v) : v);
    }
    return s;
  }

  function cabinetName(id) {
    const names = (cfg.clinic && cfg.clinic.cabinets) || {};
    return names[id] || t("cabinet", { cabinet: id });
  }

  function serviceName(id) {
    const found = ((cfg.clinic && cfg.clinic.services) || []).find((s) => s.id === id);
    return found ? found.name : id;
  }

  async function api(method, path, body, options) {
    // options: another clinic's id (a string), or {clinic, key, headers}: a caller that may repeat
    // one action (the kiosk's visit) gives its own Idempotency-Key, so a repeat is never a second;
    // headers adds e.g. If-Match. A refusal throws an Error with .status, .code and .detail.
    const opts = typeof options === "string" ? { clinic: options } : options || {};
    const headers = Object.assign({ Accept: "application/json" }, opts.headers);
    if (token) headers.Authorization = "Bearer " + token;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (method !== "GET") headers["Idempotency-Key"] = opts.key || "ui-" + Date.now() + "-" + Math.random().toString(36).slice(2);
    // A path of the API's own ("/api/v1/icu/...") is taken as it is; others are the clinic's.
    const url = path.startsWith("/api/") ? path
      : "/api/v1/clinics/" + encodeURIComponent(opts.clinic || cfg.clinic.id) + path;
    const r = await fetch(url, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = await r.json().catch(() => ({}));
    if (r.status === 401) dead("refused", refusal(4401));
    if (!r.ok) {
      // Known refusals are said in the page's language; the server's English text is the fallback.
      const code = data.error && data.error.code;
      const e = new Error((code && M["err_" + code]) || (data.error && data.error.message) || r.statusText);
      e.status = r.status;
      e.code = data.error && data.error.code;
      e.detail = (data.error && data.error.detail) || null;
      throw e;
    }
    return data;
  }

  function pushBase() {
    const given = params.get("push");
    if (given) return given.replace(/\/$/, "");
    return (location.protocol === "https:" ? "wss://" : "ws://") + location.host;
  }

  const DEAD_AFTER_MS = 5000;

  function setConn(state) {
    const node = document.getElementById("conn");
    if (!node) return;
    const marks = { online: "● ", denied: "✕ ", offline: "✕ " };
    node.textContent = (marks[state] || "◌ ") + t(state);
    node.dataset.state = state;
  }

  // Why a refused connection is refused, from its close code (4000 + the HTTP status).
  function refusal(code) {
    if (code === 4401) return t("dead_refused");
    if (code === 4403) return t("dead_forbidden");
    return t("dead_refused_code", { code });
  }

  /* Cover the page with the full-size "no connection" state, or lift it (reason null).
   * reason: "refused" (the token was refused: nothing will change until the link is fixed) or
   * "unreachable" (the push server does not answer: the page keeps trying). title: said instead
   * of "No connection" when the connection is fine and the link is not (another doctor's). */
  function isDead() {
    const node = document.getElementById("cq-dead");
    return !!node && !node.hidden;
  }

  function dead(reason, detail, title) {
    let node = document.getElementById("cq-dead");
    if (!reason) {
      if (node && !node.hidden) {
        node.hidden = true;
        for (const child of document.body.children) if (child !== node) child.inert = false;
      }
      return;
    }
    if (!node) {
      node = el("div", { id: "cq-dead", class: "cq-dead", role: "alert" },
        el("div", { class: "cq-dead-title" }),
        el("div", { class: "cq-dead-reason" }),
        el("div", { class: "cq-dead-hint" }),
        el("div", { class: "cq-dead-since" }));
      document.body.append(node);
    }
    if (node.hidden || node.dataset.reason !== reason) {
      node.querySelector(".cq-dead-since").textContent = t("dead_since", { time: clock(new Date()) });
    }
    node.dataset.reason = reason;
    node.querySelector(".cq-dead-title").textContent = "✕ " + (title || t("dead_title"));
    node.querySelector(".cq-dead-reason").textContent = detail;
    node.querySelector(".cq-dead-hint").textContent = t(reason === "refused" ? "dead_hint_refused" : "dead_hint_unreachable");
    node.hidden = false;
    // Nothing under the cover may be clicked or focused: its buttons would not work.
    for (const child of document.body.children) if (child !== node) child.inert = true;
  }

  function live(opts) {
    const st = {
      offset: null, epoch: null, board: null, ws: null, attempts: 0, heard: 0,
      heartbeat: 15000, connects: 0, snapshots: 0, stopped: false,
      online: false, downSince: Date.now(), replayed: 0,
    };
    window.CQ_LIVE = st;

    // Online only once this socket has caught up and the page shows the present: at a board, or
    // at the answer to the ping sent on open when nothing was missed (the server answers it only
    // after its replay; a replay is followed by a board within a second, which counts refresh).
    function caughtUp() {
      st.online = true;
      setConn("online");
      dead(null);
    }

    function lost() {
      if (st.online) { st.online = false; st.downSince = Date.now(); }
      setConn(Date.now() - st.downSince >= DEAD_AFTER_MS ? "offline" : "reconnecting");
    }

    function url() {
      let u = pushBase() + "/ws/clinics/" + encodeURIComponent(cfg.clinic.id) + "?" + opts.credential;
      if (st.offset !== null) u += "&from=" + st.offset + "&epoch=" + encodeURIComponent(st.epoch || "");
      return u;
    }

    function connect() {
      if (st.stopped) return;
      const ws = new WebSocket(url());
      st.ws = ws;
      st.connects += 1;
      st.replayed = 0;
      ws.onopen = () => {
        st.attempts = 0;
        st.heard = Date.now();
        ws.send('{"type":"ping"}');
      };
      ws.onmessage = (m) => {
        if (st.ws !== ws) return;
        st.heard = Date.now();
        let frame;
        try { frame = JSON.parse(m.data); } catch (_) { return; }
        take(frame, ws);
      };
      ws.onclose = (e) => {
        if (st.ws !== ws) return;
        st.ws = null;
        if (e.code >= 4400 && e.code < 4500) {
          st.stopped = true;
          st.online = false;
          setConn("denied");
          // A page that explains a refusal itself (the status page's unknown ticket) does so.
          if (opts.onDenied) opts.onDenied(e.code);
          else dead("refused", refusal(e.code));
          return;
        }
        lost();
        const wait = Math.min(15000, 400 * 2 ** Math.min(st.attempts, 6));
        st.attempts += 1;
        setTimeout(connect, wait / 2 + Math.random() * wait / 2);
      };
    }

    function resume(ws) {
      // Drop this socket and reconnect from the last applied offset: the server fills the gap.
      st.ws = null;
      try { ws.close(4000, "resync"); } catch (_) { /* already closing */ }
      lost();
      connect();
    }

    function take(frame, ws) {
      switch (frame.type) {
        case "hello":
          st.heartbeat = (frame.heartbeat || 15) * 1000;
          break;
        case "snapshot":
        case "board":
          if (frame.type === "snapshot") st.snapshots += 1;
          st.offset = frame.offset;
          st.epoch = frame.epoch;
          st.board = frame.board;
          caughtUp();
          opts.onBoard(frame.board, frame);
          window.dispatchEvent(new CustomEvent("cq:board", { detail: { type: frame.type } }));
          break;
        case "event":
          if (st.offset !== null && frame.offset !== st.offset + 1) {
            if (frame.offset > st.offset) resume(ws);
            return;
          }
          st.offset = frame.offset;
          if (!st.online) st.replayed += 1;
          if (opts.onEvent) opts.onEvent(frame.event, frame.offset);
          // For a page's other scripts (the dashboard's charts) without a second socket.
          window.dispatchEvent(new CustomEvent("cq:event", { detail: { event: frame.event, offset: frame.offset } }));
          break;
        case "printer":
          // A kiosk printer changed (not a queue event): the fleet view fetches its rows again.
          window.dispatchEvent(new CustomEvent("cq:printer", { detail: { kiosk: frame.kiosk } }));
          break;
        case "ping":
          ws.send('{"type":"pong"}');
          if (st.offset !== null && frame.offset > st.offset) resume(ws);
          else if (st.offset !== null && !st.replayed) caughtUp();
          break;
        case "pong":
          if (st.offset !== null && !st.replayed) caughtUp();
          break;
        case "reload":
          // The clinic's configuration changed and names are rendered into the page: load it
          // again (same URL, so the same token and query), spread over a second so that every
          // screen of a clinic does not ask at once. A page mid-edit loses its unapplied edit.
          // A page serving someone (the kiosk showing a ticket) may put it off: opts.reloadWhen
          // gets the reload and calls it once the page is idle.
          st.stopped = true;
          st.ws = null;
          try { ws.close(1000, "reload"); } catch (_) { /* already closing */ }
          setTimeout(() => (opts.reloadWhen || ((go) => go()))(() => location.reload()), Math.random() * 1000);
          break;
        default:
          break;
      }
    }

    setInterval(() => {
      const ws = st.ws;
      if (!ws || ws.readyState !== WebSocket.OPEN) return;
      if (Date.now() - st.heard > st.heartbeat * 2.5) { resume(ws); return; }
      ws.send('{"type":"ping"}');
    }, 5000);
    setInterval(() => {
      if (st.online || st.stopped || Date.now() - st.downSince < DEAD_AFTER_MS) return;
      setConn("offline");
      if (opts.offlineCover) dead("unreachable", t("dead_unreachable"));
    }, 1000);
    setConn("reconnecting");
    connect();
    return st;
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const k in attrs || {}) {
      if (k === "class") node.className = attrs[k];
      else if (k.startsWith("data-")) node.setAttribute(k, attrs[k]);
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), attrs[k]);
      else node[k] = attrs[k];
    }
    for (const c of children) if (c !== null && c !== undefined) node.append(c);
    return node;
  }

  function waitText(minutes) {
    return minutes === null || minutes === undefined ? t("wait_none") : t("wait_min", { minutes });
  }

  function levelBadge(level, key, text) {
    const marks = { green: "●", yellow: "▲", red: "■" };
    return el("span", { class: "level level-" + level, "data-level": level },
      marks[level] + " " + (text || t((key || "level_") + level)));
  }

  // A queue's state: an unstaffed queue (patients and no doctor) is red for that reason, which
  // the badge names instead of "overloaded".
  function queueBadge(q) {
    return q.unstaffed ? levelBadge("red", null, t("level_unstaffed")) : levelBadge(q.level);
  }

  // Hours and minutes in the clinic's zone, or the city's on the city overview (a screen's
  // browser may run in any zone, or UTC).
  const clockFormat = (() => {
    const zone = (cfg.clinic && cfg.clinic.timezone) || cfg.timezone || undefined;
    const options = { hour: "2-digit", minute: "2-digit", timeZone: zone };
    try { return new Intl.DateTimeFormat(M.lang, options); } catch (_) { /* unknown zone */ }
    return new Intl.DateTimeFormat(M.lang, { hour: "2-digit", minute: "2-digit" });
  })();

  function clock(date) {
    return clockFormat.format(date);
  }

  function tick(id) {
    const node = document.getElementById(id);
    if (!node) return;
    const show = () => { node.textContent = clock(new Date()); };
    show();
    setInterval(show, 10000);
  }

  function say(text, isError) {
    const node = document.getElementById("message");
    if (!node) return;
    node.textContent = isError ? t("error", { message: text }) : text;
    node.dataset.kind = isError ? "error" : "ok";
  }

  window.CQ = { cfg, params, token, t, api, live, el, cabinetName, serviceName, waitText, levelBadge, queueBadge, tick, clock, say, pushBase, dead, isDead };
})();
