/* A patient's ticket status: people ahead, expected wait, and the call the moment it happens.
 * The socket brings changes at once; while it is not online the page asks the HTTP API every
 * POLL_MS instead (a call must reach the phone even with the push server down) and says so.
 */
(function () {
  "use strict";
  const { cfg, t, live, el, cabinetName, waitText } = window.CQ;
  const link = cfg.ticket; // the status link: the patient's credential, not the ticket's id
  const POLL_MS = 5000;
  const SLOW_AFTER_MS = 3000; // a socket still connecting is not yet "slow"
  let ticket = null;
  let refreshTimer = null;
  let lastPoll = 0;

  // A call, or a recall, that this page has not shown yet: the phone buzzes, whichever way it came.
  function isNewCall(before, after) {
    if (!before || after.state !== "called") return false;
    return before.state !== "called" || (after.recalls || 0) > (before.recalls || 0);
  }

  function update(next) {
    const before = ticket;
    ticket = next;
    render();
    if (isNewCall(before, ticket)) alertCall(document.getElementById("called").textContent);
  }

  // -- the call reaches a patient who is not looking: buzz, a chime, a notification ----------
  // navigator.vibrate alone is nothing on an iPhone. A phone plays sound only after a tap, and
  // shows a notification only when allowed: one button asks for both, and goes once they work.
  const alerted = (window.CQ_ALERTS = []);
  let audio = null;
  try { audio = new AudioContext(); } catch (_) { /* no audio here */ }
  const notices = "Notification" in window;
  const alertsButton = document.getElementById("alerts");

  function paintAlerts() {
    const sound = audio && audio.state === "running";
    alertsButton.hidden = Boolean(sound && (!notices || Notification.permission !== "default"));
  }

  alertsButton.addEventListener("click", () => {
    try { audio = audio || new AudioContext(); audio.resume().then(paintAlerts); } catch (_) { /* none */ }
    if (notices && Notification.permission === "default") Notification.requestPermission().then(paintAlerts);
    paintAlerts();
  });
  if (audio) audio.addEventListener("statechange", paintAlerts);
  paintAlerts();

  function alertCall(text) {
    if (navigator.vibrate) navigator.vibrate([300, 100, 300]);
    if (audio && audio.state === "running") {
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.connect(gain);
      gain.connect(audio.destination);
      const at = audio.currentTime;
      osc.frequency.setValueAtTime(880, at);
      osc.frequency.setValueAtTime(660, at + 0.3);
      gain.gain.setValueAtTime(0.3, at);
      gain.gain.exponentialRampToValueAtTime(0.001, at + 0.9);
      osc.start(at);
      osc.stop(at + 0.9);
      alerted.push("sound");
    }
    if (notices && Notification.permission === "granted") {
      try {
        new Notification(document.title, { body: text, tag: "cq-call", renotify: true });
        alerted.push("notification");
      } catch (_) { /* Android wants a service worker for this: the buzz and the chime remain */ }
    }
  }

  // The clinic's own names (its cabinets, its services) are in its language: on a page in
  // another one they are marked, so that a screen reader reads them with the right voice.
  const own = String(cfg.clinic.locale || "").slice(0, 2);
  const foreign = own !== "" && own !== t("lang").slice(0, 2);

  function cabinetNode(id) {
    const named = cfg.clinic.cabinets && cfg.clinic.cabinets[id];
    return el("span", foreign && named ? { lang: own } : {}, cabinetName(id));
  }

  // t() with {cabinet} as a node in its own language.
  function withCabinet(key, cabinet) {
    return t(key, { cabinet: "\u0001" }).split("\u0001").flatMap((piece, i) => (i ? [cabinetNode(cabinet), piece] : [piece]));
  }

  function render() {
    if (!ticket) return;
    document.getElementById("number").textContent = ticket.number;
    const service = document.getElementById("service");
    service.textContent = ticket.service_name;
    if (foreign) service.lang = own;
    document.title = t("status_title", { number: ticket.number });
    const states = {
      waiting: "status_waiting", called: "status_called", serving: "status_serving",
      suspended: "status_suspended", completed: "status_done", no_show: "status_no_show",
    };
    const state = document.getElementById("state");
    const called = ticket.state === "called";
    // A call is said once, large, in #called; the state line would only repeat it.
    state.replaceChildren(...(called ? [] : withCabinet(states[ticket.state] || "status_missed", ticket.cabinet)));
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
    // Always in the page, empty until a call: a live region that appears with its text is not
    // read by every screen reader. The call is said here only, never also in #state.
    const box = document.getElementById("called");
    const recalled = called && ticket.recalls > 0;
    box.classList.toggle("recall", recalled);
    box.replaceChildren(...(called ? withCabinet(recalled ? "status_recalled" : "status_called", ticket.cabinet) : []));
  }

  async function refresh() {
    try {
      const r = await fetch("/api/v1/clinics/" + encodeURIComponent(cfg.clinic.id) + "/ticket-status/" + encodeURIComponent(link));
      if (r.status === 404) { document.getElementById("state").textContent = t("status_not_found"); return false; }
      if (r.ok) update(await r.json());
    } catch (_) { /* offline: the next poll, or the socket's reconnect, brings us back */ }
    return true;
  }

  function refreshSoon() {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(refresh, 300);
  }

  // An unknown ticket (a mistyped or yesterday's link) gets its answer and no socket at all.
  refresh().then((found) => { if (found) follow(); });

  function follow() {
    const st = live({
      credential: "link=" + encodeURIComponent(link),
      onBoard(board, frame) {
        if (frame.type === "snapshot") refresh();
      },
      onEvent(ev) {
        if (!ticket) return;
        const mine = ev.ticket && ev.ticket.id === ticket.id;
        if (mine) {
          update(Object.assign({}, ticket, {
            state: ev.ticket.state, cabinet: ev.ticket.cabinet || null,
            recalls: ev.ticket.recalls === undefined ? ticket.recalls : ev.ticket.recalls,
          }));
        }
        if (mine || (ev.ticket && ev.ticket.service === ticket.service) || ev.doctor || ev.kind === "day_opened") refreshSoon();
      },
      onDenied() { document.getElementById("state").textContent = t("status_not_found"); },
    });
    const slow = document.getElementById("slow");
    setInterval(() => {
      const down = !st.online && !st.stopped;
      slow.hidden = !down || Date.now() - st.downSince < SLOW_AFTER_MS;
      if (down && Date.now() - lastPoll >= POLL_MS) {
        lastPoll = Date.now();
        refresh();
      }
    }, 1000);
  }
})();
