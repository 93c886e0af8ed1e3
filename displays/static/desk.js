/* Information desk: the registrar's workstation. Issue a ticket with a confirmed priority
 * category; find a ticket by the number a patient reads out, reprint, transfer or cancel it;
 * a patient's bookings by their reference (masked once entered): book, move, cancel, check in;
 * and the hall at a glance, live.
 *
 * Every answer is said next to the form that asked (each section's role=status / role=alert
 * lines). One press is one action: a request in flight ignores presses of its button, a ticket
 * keeps its Idempotency-Key until it has been shown (a retry after a lost answer is the same
 * ticket), and the button rests a moment after it, so a double press issues one ticket.
 * Irreversible steps (cancel, transfer) take a second press within ARM_MS.
 *
 * With ?printer=<kiosk id> (the clinic's kiosk entry for the desk's printer) tickets are printed
 * there; without one, or when printing fails, the number and QR code are shown for the patient
 * to photograph.
 *
 * This file holds what the sections share (saying, guarding, arming, the ticket card, paper),
 * the hall, the keys and the start; desk_tickets.js (issue, find) and desk_bookings.js plug in
 * through DESK.hooks. */
(function () {
  "use strict";
  const { cfg, t, api, live, el, waitText, serviceName, cabinetName, queueBadge, params, token, pushBase, dead, isDead, tick } = window.CQ;
  const M = cfg.messages;
  const printer = cfg.printer || null;
  const ARM_MS = 5000;
  const PRINT_WAIT_MS = 20000;
  const $ = (id) => document.getElementById(id);
  const zone = cfg.clinic.timezone;
  const dayFormat = new Intl.DateTimeFormat(M.lang, { weekday: "short", day: "numeric", month: "short", timeZone: zone });
  const isoDay = new Intl.DateTimeFormat("en-CA", { year: "numeric", month: "2-digit", day: "2-digit", timeZone: zone });

  // -- saying things where the registrar is looking ---------------------------------------

  function tell(section, text, isError) {
    $(section + "-result").textContent = isError ? "" : text || "";
    $(section + "-error").textContent = isError ? text || "" : "";
  }

  // A refusal in the registrar's language: the desk's own wording first (with the refusal's
  // detail), then the catalogue's; no status means the answer was lost on the way.
  function failText(e, vars) {
    if (!e.status) return t("err_unavailable");
    const own = M["desk_err_" + e.code];
    return own ? t("desk_err_" + e.code, vars || {}) : e.message;
  }

  const inFlight = new Set();

  // Run ``fn`` unless the same ``what`` is already running (a second press is ignored).
  async function once(what, section, fn) {
    if (inFlight.has(what)) return;
    inFlight.add(what);
    $(section).setAttribute("aria-busy", "true");
    try {
      await fn();
    } finally {
      inFlight.delete(what);
      $(section).removeAttribute("aria-busy");
    }
  }

  function newKey() {
    // getRandomValues, unlike randomUUID, works on a workstation served over plain http.
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return "desk-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  const today = () => isoDay.format(new Date());
  const timeOf = (iso) => (iso ? iso.slice(11, 16) : ""); // the clinic's wall clock, as written
  const dayOf = (iso) => dayFormat.format(new Date(iso));
  const code = (id) => id.toUpperCase();

  function doctorName(id) {
    const found = cfg.clinic.doctors.find((d) => d.id === id);
    return found ? found.name : id;
  }

  // -- two presses for what cannot be undone -----------------------------------------------

  let armed = null; // {what, id, button, label, timer}

  function arm(what, id, button, confirm, section, text) {
    disarm();
    armed = { what, id, button, label: button.innerHTML };
    armed.timer = setTimeout(disarm, ARM_MS);
    button.classList.add("armed");
    button.textContent = confirm;
    tell(section, text, false);
  }

  // Whether this (or, with no arguments, any) step waits for its second press.
  function isArmed(what, id) {
    return !!armed && (what === undefined || (armed.what === what && armed.id === id));
  }

  function disarm() {
    if (!armed) return false;
    clearTimeout(armed.timer);
    armed.button.classList.remove("armed");
    armed.button.innerHTML = armed.label;
    armed = null;
    return true;
  }

  // -- a ticket card: number, where it stands, QR code, paper ----------------------------

  function statusLink(path) {
    const push = params.get("push");
    return location.origin + path + (push ? "?push=" + encodeURIComponent(pushBase()) : "");
  }

  function standing(view) {
    if (view.state === "called" && view.cabinet) return t("desk_called_to", { cabinet: cabinetName(view.cabinet) });
    if (view.state === "serving" && view.cabinet) return t("desk_serving_in", { cabinet: cabinetName(view.cabinet) });
    if (view.state !== "waiting") return "";
    return t("desk_ahead", { count: view.ahead }) + " · " + t("desk_wait", { wait: waitText(view.expected_wait_minutes) });
  }

  function card(node, view) {
    const facts = [
      view.priority ? t("desk_priority_shown", { category: M["priority_" + view.priority] || view.priority }) : null,
      view.appointment ? t("desk_appointment", { time: timeOf(view.appointment.time), doctor: view.appointment.doctor_name }) : null,
      t("desk_issued_at", { time: timeOf(view.issued_at) }) + " · " + t("desk_via", { channel: t("desk_channel_" + view.channel) }),
    ].filter(Boolean);
    const link = view.status_url ? statusLink(view.status_url) : "";
    // The same ticket again (it moved in the hall): keep its QR image and what the printer said.
    const same = !node.hidden && node.dataset.ticket === view.id;
    const shown = same ? node.querySelector("img.qr") : null;
    let qr = shown && shown.dataset.link === link ? shown : null;
    if (!qr && link) {
      qr = el("img", { class: "qr", alt: "QR", src: "/displays/qr.png?data=" + encodeURIComponent(link) });
      qr.dataset.link = link;
    }
    const printed = (same && node.querySelector(".print-state")) || el("p", { class: "print-state", role: "status" });
    node.replaceChildren(
      el("div", { class: "ticket-main" },
        el("div", { class: "number" }, view.number),
        el("div", { class: "ticket-text" },
          el("div", { class: "service-name" }, view.service_name || serviceName(view.service)),
          el("div", { class: "state", "data-state": view.state }, t("desk_state_" + view.state)),
          el("div", { class: "standing" }, standing(view)),
          ...facts.map((f) => el("div", { class: "fact" }, f))),
        qr),
      qr ? el("p", { class: "hint" }, t("desk_qr_hint")) : null,
      printed);
    node.dataset.ticket = view.id;
    node.dataset.state = view.state;
    node.hidden = false;
  }

  // Paper at the desk's printer: a ticket printed before (anywhere) is reprinted here once its
  // first job is done; a ticket never printed prints for the first time.
  async function print(view, node) {
    const say = (key, state) => {
      const line = node.querySelector(".print-state");
      if (!line || node.dataset.ticket !== view.id) return;
      line.textContent = t(key, { printer });
      line.dataset.state = state;
    };
    if (!printer) { say("desk_print_none", "none"); return; }
    const base = "/kiosks/" + encodeURIComponent(printer) + "/print";
    say("desk_print_printing", "printing");
    let job = null;
    try {
      job = await api("POST", base, { ticket: view.id });
      if (job.done) job = await api("POST", base + "/" + encodeURIComponent(job.id) + "/reprint", {});
      const deadline = Date.now() + PRINT_WAIT_MS;
      while (!job.done && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 500));
        job = await api("GET", base + "/" + encodeURIComponent(job.id));
      }
    } catch (_) {
      job = null; // no answer about the printer is no paper as far as the patient can tell
    }
    say(job && job.state === "printed" ? "desk_print_printed" : "desk_print_fallback", job && job.state === "printed" ? "printed" : "fallback");
  }

  // -- 4. the hall ------------------------------------------------------------------------

  function renderHall(board) {
    $("queues").querySelector("tbody").replaceChildren(...board.queues.map((q) =>
      el("tr", { "data-queue": q.service, class: "level-" + q.level },
        el("td", {}, q.prefix + " · " + q.name),
        el("td", { class: "waiting" }, String(q.waiting)),
        el("td", {}, waitText(q.expected_wait_minutes)),
        el("td", {}, queueBadge(q)))));
    const working = board.doctors.filter((d) => d.status !== "off")
      .sort((a, b) => (a.status === "on_duty" ? 0 : 1) - (b.status === "on_duty" ? 0 : 1));
    $("doctors").replaceChildren(...(working.length ? working.map((d) =>
      el("li", { "data-doctor": d.id, "data-status": d.status },
        el("span", { class: "doc" }, t("desk_doctor_line", { doctor: d.name, cabinet: cabinetName(d.cabinet) })),
        el("span", { class: "doc-status" }, t("status_" + d.status)
          + (d.current ? " · " + t("desk_doctor_current", { number: d.current }) : "")),
        el("span", { class: "doc-services" }, d.services.map(serviceName).join(", "))))
      : [el("li", { class: "none" }, t("desk_nobody_on_duty"))]));
  }

  // -- keys: physical (e.code), so they work in the Russian layout too ----------------------

  const hooks = { key: [], escape: [], board: [], event: [] };

  function focusIn(id) {
    return $(id).contains(document.activeElement);
  }

  document.addEventListener("keydown", (e) => {
    if (isDead()) return; // under the "no connection" cover, as its buttons are
    const typing = ["TEXTAREA", "SELECT"].includes(e.target.tagName)
      || (e.target.tagName === "INPUT" && !["radio", "checkbox"].includes(e.target.type));
    if (e.code === "F2") { e.preventDefault(); ($("issue-form").querySelector('input[name="service"]:checked') || $("issue-button")).focus(); return; }
    if (e.code === "F3") { e.preventDefault(); $("find-number").focus(); $("find-number").select(); return; }
    if (e.code === "F4") { e.preventDefault(); $("patient-ref").focus(); return; }
    if (e.code === "Escape") {
      if (disarm()) { tell(focusIn("bookings") ? "bookings" : "find", "", false); return; }
      for (const hook of hooks.escape) if (hook()) return;
      return;
    }
    for (const hook of hooks.key) if (hook(e, typing)) { e.preventDefault(); return; }
  });

  // -- start --------------------------------------------------------------------------------

  // Whose link is this? The desk is the registrar's (a head's or an admin's too): say so at
  // once, over everything, rather than at the first refused press.
  async function mayWork() {
    let who;
    try {
      who = await api("GET", "/whoami");
    } catch (e) {
      if (e.status === 403) dead("refused", t("dead_forbidden"));
      return e.status !== 401 && e.status !== 403;
    }
    if (!["registrar", "head", "admin"].includes(who.role)) {
      dead("refused", t("desk_wrong_role"), t("desk_wrong_link"));
      return false;
    }
    return true;
  }

  window.DESK = {
    $, tell, failText, once, newKey, arm, isArmed, disarm, card, print, focusIn, hooks,
    today, timeOf, dayOf, code, doctorName, ARM_MS,
  };
  tick("clock");
  mayWork().then((ok) => ok && live({
    credential: "token=" + encodeURIComponent(token),
    offlineCover: true, // a desk without the live hall must not look like a working one
    onBoard(board) { renderHall(board); for (const hook of hooks.board) hook(board); },
    onEvent(ev) { for (const hook of hooks.event) hook(ev); },
  }));
})();
