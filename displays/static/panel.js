/* Doctor's panel: call next, recall, start, suspend/resume, complete, no-show, transfer; duty. */
(function () {
  "use strict";
  const { cfg, t, api, live, el, waitText, serviceName, say, token, dead } = window.CQ;
  const me = cfg.doctor;
  let doctor = null; // this doctor's row of the board
  let current = null; // {id, number, state}
  let suspended = []; // [{id, number}]
  let queues = [];

  function render() {
    if (!doctor) return;
    // A live update or an answer may disable or replace the control that has the focus: note it
    // now, and put the focus on the next useful control below rather than let it fall to <body>.
    const active = document.activeElement;
    const activeTicket = active && active.closest && active.closest("#suspended li");
    const held = activeTicket ? activeTicket.dataset.ticket : null;
    const status = doctor.status !== "on_duty" ? "status_" + doctor.status
      : !current ? "status_idle" : current.state === "called" ? "status_calling_doc" : "status_serving_doc";
    const badge = document.getElementById("doc-state");
    badge.textContent = t("status_" + doctor.status) + (doctor.status === "on_duty" ? " · " + t(status) : "") + " · " + window.CQ.cabinetName(doctor.cabinet);
    badge.dataset.status = doctor.status;
    const number = document.getElementById("current");
    number.textContent = current ? current.number : t("panel_none");
    number.dataset.ticket = current ? current.id : "";
    number.toggleAttribute("data-none", !current);
    document.getElementById("current-state").textContent = current ? t("state_" + current.state) : "";
    const state = current ? current.state : null;
    // The engine refuses a call or a resume while a patient is in hand (called or serving).
    const enable = {
      "call-next": doctor.status === "on_duty" && !current,
      recall: state === "called", start: state === "called", suspend: state === "serving",
      complete: state === "serving", "no-show": state === "called", transfer: !!current,
      "on-duty": doctor.status !== "on_duty", break: doctor.status === "on_duty", off: doctor.status !== "off",
    };
    for (const id in enable) document.getElementById(id).disabled = !enable[id];
    // The one step that makes sense now stands out: start a called patient, complete one in
    // service, call the next when free, and come on duty first when not.
    const primary = state === "called" ? "start" : state === "serving" ? "complete"
      : doctor.status === "on_duty" ? "call-next" : "on-duty";
    for (const id in enable) document.getElementById(id).classList.toggle("primary", id === primary);
    for (const [id, label] of [["no-show", "panel_no_show"], ["complete", "panel_complete"]]) {
      const button = document.getElementById(id);
      const on = !!(armed && current && armed.action === id && armed.id === current.id);
      button.classList.toggle("armed", on);
      button.firstChild.textContent = t(on ? label + "_confirm" : label) + " ";
    }
    // Each resume button names its patient: "Продолжить Т-004", not "Продолжить 1".
    document.getElementById("suspended").replaceChildren(...suspended.map((s, i) =>
      el("li", { "data-ticket": s.id }, el("span", { class: "number" }, s.number), " ",
        el("button", { onclick: () => act("resume", s.id), disabled: !!current },
          t("panel_resume_number", { number: s.number }) + " ", el("kbd", {}, String(i + 1))))));
    const mine = queues.filter((q) => doctor.services.includes(q.service));
    document.getElementById("queue").replaceChildren(...mine.map((q) =>
      el("li", { "data-queue": q.service }, serviceName(q.service) + ": ",
        el("b", { class: "waiting" }, String(q.waiting)), " · " + waitText(q.expected_wait_minutes))));
    if (active && active !== document.body && (!active.isConnected || active.disabled)) {
      const again = held && document.querySelector('#suspended li[data-ticket="' + CSS.escape(held) + '"] button');
      (again && !again.disabled ? again : document.getElementById(primary)).focus();
    }
  }

  // The answer to an action may land after newer news: the push event, or the answer to a key
  // pressed since (P then N in quick succession). Only the newest action's answer is applied
  // and said; the feed's events, in order, bring the rest. A refusal is always said.
  let newest = 0;

  // A no-show costs the patient their place, and the patient may still be on the way down the
  // corridor: it takes a second press (click or X) within ARM_MS of the first. Completing by the
  // C key alone does too (a stray key must not end a visit; a click on the button is deliberate).
  const ARM_MS = 5000;
  let armed = null; // {action, id, timer}

  function arm(action, id, number) {
    clearTimeout(armed && armed.timer);
    armed = { action, id, timer: setTimeout(() => { armed = null; render(); }, ARM_MS) };
    say(t(action === "no-show" ? "panel_no_show_armed" : "panel_complete_armed", { number, seconds: ARM_MS / 1000 }), false);
    render();
  }

  function disarm() {
    if (!armed) return;
    clearTimeout(armed.timer);
    armed = null;
  }

  // What an answer did, said as its result ("Т-038: отложен"), not as the button pressed.
  function result(ticket) {
    const key = "state_" + ticket.state;
    return t(key) === key ? null : t("panel_result", { number: ticket.number, state: t(key) });
  }

  async function run(what, call, apply) {
    const mine = ++newest;
    let out;
    try {
      out = await call();
    } catch (e) {
      say(e.message, true);
      return;
    }
    if (mine !== newest) return;
    say((apply && apply(out)) || t("done_ok") + ": " + what, false);
    render();
  }

  function callNext() {
    if (!doctor) return; // no board yet: nothing to call to
    run(t("panel_call_next"), () => api("POST", "/cabinets/" + encodeURIComponent(doctor.cabinet) + "/call-next", {}), (out) => {
      if (!out.ticket) return t("panel_empty_queue");
      current = { id: out.ticket.id, number: out.ticket.number, state: out.ticket.state };
      return result(out.ticket);
    });
  }

  function act(action, ticketId, byKey) {
    const id = ticketId || (current && current.id);
    if (!id) return;
    const twice = action === "no-show" || (action === "complete" && byKey);
    if (twice && !(armed && armed.action === action && armed.id === id)) {
      arm(action, id, current ? current.number : "");
      return;
    }
    disarm();
    const body = action === "transfer" ? { service: document.getElementById("transfer-to").value } : {};
    run(t("panel_" + action.replace("-", "_")), () => api("POST", "/tickets/" + encodeURIComponent(id) + "/" + action, body), (out) => {
      // The push event may have landed first; keep one entry per ticket.
      suspended = suspended.filter((s) => s.id !== out.id);
      if (out.state === "suspended") suspended.push({ id: out.id, number: out.number });
      current = ["called", "serving"].includes(out.state) ? { id: out.id, number: out.number, state: out.state } : null;
      return result(out);
    });
  }

  function duty(status) {
    if (!doctor) return;
    run(t("duty"), () => api("PUT", "/doctors/" + encodeURIComponent(me) + "/duty", { status }), (out) => {
      doctor = Object.assign({}, doctor, { status: out.status, cabinet: out.cabinet || doctor.cabinet });
      return null;
    });
  }

  document.getElementById("call-next").addEventListener("click", callNext);
  for (const b of document.querySelectorAll("button[data-action]")) b.addEventListener("click", () => act(b.dataset.action));
  for (const b of document.querySelectorAll("button[data-duty]")) b.addEventListener("click", () => duty(b.dataset.duty));
  // Shortcuts can be turned off (WCAG 2.1.4): a speech-input user or a cat on the keyboard
  // would otherwise act on a patient. The choice is this browser's, kept across reloads.
  const SHORTCUTS = "cq.panel.shortcuts";
  const toggle = document.getElementById("shortcuts");
  function shortcuts(on) {
    try { localStorage.setItem(SHORTCUTS, on ? "on" : "off"); } catch (e) { /* private mode */ }
    toggle.checked = on;
    document.body.classList.toggle("keys-off", !on);
    document.getElementById("keys").textContent = t(on ? "panel_keys" : "panel_keys_off");
  }
  shortcuts((() => { try { return localStorage.getItem(SHORTCUTS) !== "off"; } catch (e) { return true; } })());
  toggle.addEventListener("change", () => shortcuts(toggle.checked));

  // The physical key (e.code), not the character: N is "т" in the Russian layout.
  function keyOf(e) {
    if (/^Key[A-Z]$/.test(e.code)) return e.code.slice(3).toLowerCase();
    if (/^(Digit|Numpad)[1-9]$/.test(e.code)) return e.code.slice(-1);
    return e.key.toLowerCase();
  }

  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.altKey || e.metaKey || e.target.matches("select, textarea, input:not([type=checkbox])")) return;
    if (window.CQ.isDead() || !toggle.checked) return; // under the "no connection" cover, as its buttons are
    const k = keyOf(e);
    if (/^[1-9]$/.test(k)) {
      const resume = document.querySelectorAll("#suspended button")[Number(k) - 1];
      if (resume && !resume.disabled) resume.click();
      return;
    }
    const button = document.querySelector('button[data-key="' + k + '"]');
    if (!button || button.disabled) return;
    e.preventDefault();
    if (button.dataset.action) act(button.dataset.action, null, true); else button.click();
  });

  function doctorName(id) {
    const found = ((cfg.clinic && cfg.clinic.doctors) || []).find((d) => d.id === id);
    return found ? found.name : id;
  }

  // Whose link is this? A doctor's token works its own panel only (a head's any): say so at
  // once, over everything, rather than at the first refused click. Only a refusal stops the
  // page; an engine that does not answer leaves the live feed to show what it can.
  async function mayWork() {
    let who;
    try {
      who = await api("GET", "/whoami");
    } catch (e) {
      if (e.status === 403) dead("refused", t("dead_forbidden"));
      return e.status !== 401 && e.status !== 403; // a 401 has covered the page already
    }
    if (who.role === "doctor" && who.doctor && who.doctor !== me) {
      dead("refused", t("panel_other_doctor", { name: doctorName(who.doctor) }), t("panel_wrong_link"));
      return false;
    }
    if (!["doctor", "head", "admin"].includes(who.role)) {
      dead("refused", t("panel_wrong_role"), t("panel_wrong_link"));
      return false;
    }
    return true;
  }

  mayWork().then((ok) => ok && live({
    credential: "token=" + encodeURIComponent(token),
    offlineCover: true, // a panel without the live state must not look like a working one
    onBoard(board) {
      doctor = board.doctors.find((d) => d.id === me) || null;
      queues = board.queues;
      if (doctor) {
        current = doctor.current_ticket ? { id: doctor.current_ticket, number: doctor.current, state: doctor.current_state } : null;
        suspended = doctor.suspended_tickets || [];
      }
      render();
    },
    onEvent(ev) {
      if (!doctor) return;
      if (ev.doctor && ev.doctor.id === me) doctor = Object.assign({}, doctor, ev.doctor);
      const tk = ev.ticket;
      if (tk && ev.doctor && ev.doctor.id === me && (ev.kind === "ticket_called" || ev.kind === "ticket_resumed")) {
        current = { id: tk.id, number: tk.number, state: tk.state };
        suspended = suspended.filter((s) => s.id !== tk.id);
      } else if (tk && current && tk.id === current.id) {
        if (tk.state === "suspended") suspended = [...suspended.filter((s) => s.id !== tk.id), { id: tk.id, number: tk.number }];
        current = ["called", "serving"].includes(tk.state) ? { id: tk.id, number: tk.number, state: tk.state } : null;
      }
      render();
    },
  }));
})();
