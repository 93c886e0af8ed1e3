/* Shared by every page: configuration, the catalogue, the JSON API, and the live connection.
 *
 * live() keeps one WebSocket to the push server. It remembers the last offset and epoch it
 * applied and reconnects with them (jittered exponential back-off), so the server replays what
 * was missed or sends a fresh snapshot. A gap in offsets, or a ping announcing an offset we never
 * got, drops the socket and resumes the same way: a screen never keeps a stale call.
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
    // options: another clinic's id (a string), or {clinic, key}: a caller that may repeat one
    // action (the kiosk's visit) gives its own Idempotency-Key, so a repeat is never a second.
    const opts = typeof options === "string" ? { clinic: options } : options || {};
    const headers = { Accept: "application/json" };
    if (token) headers.Authorization = "Bearer " + token;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (method !== "GET") headers["Idempotency-Key"] = opts.key || "ui-" + Date.now() + "-" + Math.random().toString(36).slice(2);
    const id = opts.clinic || cfg.clinic.id;
    const r = await fetch("/api/v1/clinics/" + encodeURIComponent(id) + path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = await r.json().catch(() => ({}));
    if (!r.ok) {
      // Known refusals are said in the page's language; the server's English text is the fallback.
      const code = data.error && data.error.code;
      const e = new Error((code && M["err_" + code]) || (data.error && data.error.message) || r.statusText);
      e.status = r.status;
      e.code = data.error && data.error.code;
      throw e;
    }
    return data;
  }

  function pushBase() {
    const given = params.get("push");
    if (given) return given.replace(/\/$/, "");
    return (location.protocol === "https:" ? "wss://" : "ws://") + location.host;
  }

  function setConn(state) {
    const el = document.getElementById("conn");
    if (!el) return;
    el.textContent = (state === "online" ? "● " : state === "denied" ? "✕ " : "◌ ") + t(state);
    el.dataset.state = state;
  }

  function live(opts) {
    const st = {
      offset: null, epoch: null, board: null, ws: null, attempts: 0, heard: 0,
      heartbeat: 15000, connects: 0, snapshots: 0, stopped: false,
    };
    window.CQ_LIVE = st;

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
      ws.onopen = () => { st.attempts = 0; st.heard = Date.now(); };
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
          setConn("denied");
          if (opts.onDenied) opts.onDenied(e.code);
          return;
        }
        setConn("reconnecting");
        const wait = Math.min(15000, 400 * 2 ** Math.min(st.attempts, 6));
        st.attempts += 1;
        setTimeout(connect, wait / 2 + Math.random() * wait / 2);
      };
    }

    function resume(ws) {
      // Drop this socket and reconnect from the last applied offset: the server fills the gap.
      st.ws = null;
      try { ws.close(4000, "resync"); } catch (_) { /* already closing */ }
      setConn("reconnecting");
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
          setConn("online");
          opts.onBoard(frame.board, frame);
          break;
        case "event":
          if (st.offset !== null && frame.offset !== st.offset + 1) {
            if (frame.offset > st.offset) resume(ws);
            return;
          }
          st.offset = frame.offset;
          if (opts.onEvent) opts.onEvent(frame.event, frame.offset);
          // For a page's other scripts (the dashboard's charts) without a second socket.
          window.dispatchEvent(new CustomEvent("cq:event", { detail: { event: frame.event, offset: frame.offset } }));
          break;
        case "ping":
          ws.send('{"type":"pong"}');
          if (st.offset !== null && frame.offset > st.offset) resume(ws);
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

  function levelBadge(level, key) {
    const marks = { green: "●", yellow: "▲", red: "■" };
    return el("span", { class: "level level-" + level, "data-level": level },
      marks[level] + " " + t((key || "level_") + level));
  }

  function tick(id) {
    const node = document.getElementById(id);
    if (!node) return;
    const show = () => {
      node.textContent = new Date().toLocaleTimeString(M.lang, { hour: "2-digit", minute: "2-digit" });
    };
    show();
    setInterval(show, 10000);
  }

  function say(text, isError) {
    const node = document.getElementById("message");
    if (!node) return;
    node.textContent = isError ? t("error", { message: text }) : text;
    node.dataset.kind = isError ? "error" : "ok";
  }

  window.CQ = { cfg, params, token, t, api, live, el, cabinetName, serviceName, waitText, levelBadge, tick, say, pushBase };
})();
