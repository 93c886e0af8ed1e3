/* A patient's ticket status: people ahead, expected wait, and the call the moment it happens. */
(function () {
  "use strict";
  const { cfg, t, live, cabinetName, waitText } = window.CQ;
  const link = cfg.ticket; // the status link: the patient's credential, not the ticket's id
  let ticket = null;
  let refreshTimer = null;

  function render() {
    if (!ticket) return;
    document.getElementById("number").textContent = ticket.number;
    document.getElementById("service").textContent = ticket.service_name;
    document.title = t("status_title", { number: ticket.number });
    const states = {
      waiting: "status_waiting", called: "status_called", serving: "status_serving",
      suspended: "status_suspended", completed: "status_done",
    };
    const state = document.getElementById("state");
    const called = ticket.state === "called";
    // A call is said once, large, in #called; the state line would only repeat it.
    state.textContent = called ? "" : t(states[ticket.state] || "status_missed", { cabinet: cabinetName(ticket.cabinet) });
    state.dataset.state = ticket.state;
    const booked = ticket.appointment;
    document.getElementById("appointment").hidden = !booked;
    if (booked) {
      // The clinic's wall clock as the server wrote it: the phone may be in another zone.
      document.getElementById("appointment-time").textContent = t("appointment_at", { time: booked.time.slice(11, 16) });
      document.getElementById("appointment-doctor").textContent = t("appointment_doctor", { doctor: booked.doctor_name });
      document.getElementById("appointment-cabinet").textContent = booked.cabinet ? cabinetName(booked.cabinet) : "";
    }
    const waiting = ticket.state === "waiting";
    const minutes = ticket.expected_wait_minutes;
    // A booked patient is called at their time: "nobody ahead" would promise a call now.
    let ahead = ticket.ahead ? t("ahead", { count: ticket.ahead }) : booked ? "" : t("ahead_none");
    let wait = booked ? (minutes ? t("appointment_in", { minutes }) : t("appointment_due")) : waitText(minutes);
    if (!waiting) ahead = wait = "";
    document.getElementById("ahead").textContent = ahead;
    document.getElementById("wait").textContent = wait;
    const box = document.getElementById("called");
    box.hidden = !called;
    box.textContent = t("status_called", { cabinet: cabinetName(ticket.cabinet) });
  }

  async function refresh() {
    try {
      const r = await fetch("/api/v1/clinics/" + encodeURIComponent(cfg.clinic.id) + "/ticket-status/" + encodeURIComponent(link));
      if (r.status === 404) { document.getElementById("state").textContent = t("status_not_found"); return false; }
      if (r.ok) { ticket = await r.json(); render(); }
    } catch (_) { /* offline: the socket's reconnect brings us back */ }
    return true;
  }

  function refreshSoon() {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(refresh, 300);
  }

  // An unknown ticket (a mistyped or yesterday's link) gets its answer and no socket at all.
  refresh().then((found) => { if (found) follow(); });

  function follow() { live({
    credential: "link=" + encodeURIComponent(link),
    onBoard(board, frame) {
      if (frame.type === "snapshot") refresh();
    },
    onEvent(ev) {
      if (!ticket) return;
      const mine = ev.ticket && ev.ticket.id === ticket.id;
      if (mine) {
        ticket = Object.assign({}, ticket, { state: ev.ticket.state, cabinet: ev.ticket.cabinet || null });
        render();
        if ((ev.kind === "ticket_called" || ev.kind === "ticket_recalled") && navigator.vibrate) navigator.vibrate([300, 100, 300]);
      }
      if (mine || (ev.ticket && ev.ticket.service === ticket.service) || ev.doctor || ev.kind === "day_opened") refreshSoon();
    },
    onDenied() { document.getElementById("state").textContent = t("status_not_found"); },
  }); }
})();
