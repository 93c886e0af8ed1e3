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
    const noShow = document.getElementById("no-show");
    const armed = noShowArmed && current && noShowArmed.id === current.id;
    noShow.classList.toggle("armed", !!armed);
    noShow.firstChild.textContent = t(armed ? "panel_no_show_confirm" : "panel_no_show") + " ";
    document.getElementById("suspended").replaceChildren(...suspended.map((s, i) =>
      el("li", { "data-ticket": s.id }, el("span", { class: "number" }, s.number), " ",
        el("button", { onclick: () => act("resume", s.id), disabled: !!current },
          t("panel_resume") + " ", el("kbd", {}, String(i + 1))))));
    const mine = queues.filter((q) => doctor.services.includes(q.service));
    document.getElementById("queue").replaceChildren(...mine.map((q) =>
      el("li", { "data-queue": q.service }, serviceName(q.service) + ": ",
        el("b", { class: "waiting" }, String(q.waiting)), " · " + waitText(q.expected_wait_minutes))));
  }

  // The answer to an action may land after newer news: the push event, or the answer to a key
  // pressed since (P then N in quick succession). Only the newest action's answer is applied
  // and said; the feed's events, in order, bring the rest. A refusal is always said.
  let newest = 0;

  // A no-show costs the patient their place, and the patient may still be on the way down the
  // corridor: it takes a second press (click or X) within NO_SHOW_ARM_MS of the first.
  const NO_SHOW_ARM_MS = 5000;
  let noShowArmed = null; // {id, timer}

  function armNoShow(id, number) {
    clearTimeout(noShowArmed && noShowArmed.timer);
    noShowArmed = { id, timer: setTimeout(() => { noShowArmed = null; render(); }, NO_SHOW_ARM_MS) };
    say(t("panel_no_show_armed", { number, seconds: NO_SHOW_ARM_MS / 1000 }), false);
    render();
  }

  function disarmNoShow() {
    if (!noShowArmed) return;
    clearTimeout(noShowArmed.timer);
    noShowArmed = null;
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

  function act(action, ticketId) {
    const id = ticketId || (current && current.id);
    if (!id) return;
    if (action === "no-show" && !(noShowArmed && noShowArmed.id === id)) {
      armNoShow(id, current ? current.number : "");
      return;
    }
    disarmNoShow();
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
  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.altKey || e.metaKey || ["INPUT", "SELECT", "TEXTAREA"].includes(e.target.tagName)) return;
    if (window.CQ.isDead()) return; // under the "no connection" cover, as its buttons are
    const k = e.key.toLowerCase();
    if (/^[1-9]$/.test(k)) {
      const resume = document.querySelectorAll("#suspended button")[Number(k) - 1];
      if (resume && !resume.disabled) resume.click();
      return;
    }
    const button = document.querySelector('button[data-key="' + k + '"]');
    if (button && !button.disabled) { e.preventDefault(); button.click(); }
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
