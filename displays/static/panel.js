/* Doctor's panel: call next, recall, start, suspend/resume, complete, no-show, transfer; duty. */
(function () {
  "use strict";
  const { cfg, t, api, live, el, waitText, serviceName, say, token } = window.CQ;
  const me = cfg.doctor;
  let doctor = null; // this doctor's row of the board
  let current = null; // {id, number, state}
  let suspended = []; // [{id, number}]
  let queues = [];

  function render() {
    if (!doctor) return;
    const status = doctor.status === "on_duty" ? (current ? "status_serving_doc" : "status_idle") : "status_" + doctor.status;
    const badge = document.getElementById("doc-state");
    badge.textContent = t("status_" + doctor.status) + (doctor.status === "on_duty" ? " · " + t(status) : "") + " · " + window.CQ.cabinetName(doctor.cabinet);
    badge.dataset.status = doctor.status;
    document.getElementById("current").textContent = current ? current.number : t("panel_none");
    document.getElementById("current").dataset.ticket = current ? current.id : "";
    document.getElementById("current-state").textContent = current ? t("state_" + current.state) : "";
    const state = current ? current.state : null;
    const enable = {
      "call-next": doctor.status === "on_duty" && (!current || state === "called"),
      recall: state === "called", start: state === "called", suspend: state === "serving",
      complete: state === "serving", "no-show": state === "called", transfer: !!current,
    };
    for (const id in enable) document.getElementById(id).disabled = !enable[id];
    document.getElementById("on-duty").disabled = doctor.status === "on_duty";
    document.getElementById("break").disabled = doctor.status !== "on_duty";
    document.getElementById("off").disabled = doctor.status === "off";
    document.getElementById("suspended").replaceChildren(...suspended.map((s, i) =>
      el("li", { "data-ticket": s.id }, el("span", { class: "number" }, s.number), " ",
        el("button", { onclick: () => act("resume", s.id), disabled: !!current && current.state === "serving" },
          t("panel_resume") + " ", el("kbd", {}, String(i + 1))))));
    const mine = queues.filter((q) => doctor.services.includes(q.service));
    document.getElementById("queue").replaceChildren(...mine.map((q) =>
      el("li", { "data-queue": q.service }, serviceName(q.service) + ": ",
        el("b", { class: "waiting" }, String(q.waiting)), " · " + waitText(q.expected_wait_minutes))));
  }

  async function run(what, call) {
    try {
      const out = await call();
      say(t("done_ok") + ": " + what, false);
      return out;
    } catch (e) {
      say(e.message, true);
      return null;
    }
  }

  async function callNext() {
    const out = await run(t("panel_call_next"), () => api("POST", "/cabinets/" + encodeURIComponent(doctor.cabinet) + "/call-next", {}));
    if (out && out.ticket) {
      current = { id: out.ticket.id, number: out.ticket.number, state: out.ticket.state };
      render();
    } else if (out) {
      say(t("panel_empty_queue"), false);
    }
  }

  async function act(action, ticketId) {
    const id = ticketId || (current && current.id);
    if (!id) return;
    const body = action === "transfer" ? { service: document.getElementById("transfer-to").value } : {};
    const out = await run(t("panel_" + action.replace("-", "_")), () => api("POST", "/tickets/" + encodeURIComponent(id) + "/" + action, body));
    if (!out) return;
    if (action === "resume") {
      suspended = suspended.filter((s) => s.id !== id);
      current = { id: out.id, number: out.number, state: out.state };
    } else if (action === "suspend") {
      // The push event may have landed first; keep one entry per ticket.
      suspended = [...suspended.filter((s) => s.id !== out.id), { id: out.id, number: out.number }];
      current = null;
    } else if (["called", "serving"].includes(out.state)) {
      current = { id: out.id, number: out.number, state: out.state };
    } else {
      current = null;
    }
    render();
  }

  async function duty(status) {
    const out = await run(t("duty"), () => api("PUT", "/doctors/" + encodeURIComponent(me) + "/duty", { status }));
    if (out) { doctor = Object.assign({}, doctor, { status: out.status, cabinet: out.cabinet || doctor.cabinet }); render(); }
  }

  document.getElementById("call-next").addEventListener("click", callNext);
  for (const b of document.querySelectorAll("button[data-action]")) b.addEventListener("click", () => act(b.dataset.action));
  for (const b of document.querySelectorAll("button[data-duty]")) b.addEventListener("click", () => duty(b.dataset.duty));
  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.altKey || e.metaKey || ["INPUT", "SELECT", "TEXTAREA"].includes(e.target.tagName)) return;
    if (window.CQ.isDead()) return; // under the "no connection" cover, as its buttons are
    const k = e.key.toLowerCase();
    if (/^[1-9]$/.test(k)) { const s = suspended[Number(k) - 1]; if (s) act("resume", s.id); return; }
    const button = document.querySelector('button[data-key="' + k + '"]');
    if (button && !button.disabled) { e.preventDefault(); button.click(); }
  });

  live({
    credential: "token=" + encodeURIComponent(token),
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
  });
})();
