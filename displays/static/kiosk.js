/* Kiosk: choose a service (or check in a booking by its code), get the ticket with its QR code.
 *
 * A service nobody is serving now says so on its tile (with today's scheduled hours, when the
 * schedules have them), and a tap on it asks first. The booking form has its own keypad, for a
 * touch screen with no keyboard; a repeated check-in shows the first one's ticket again.
 *
 * With ?kiosk=<id> the ticket is also printed on that kiosk's printer. The ticket is already
 * issued and on screen; printing only adds paper. When the job fails (no paper, printer offline)
 * or does not finish in time, the screen says so and keeps the number and QR large for longer.
 *
 * One visit is one ticket: each request keeps its Idempotency-Key until a ticket has been shown,
 * so a double tap, or a tap again after an answer was lost, gets the same ticket back; and taps
 * while a request is in flight are ignored. */
(function () {
  "use strict";
  const { t, api, live, waitText, serviceName, cabinetName, say, params, token, pushBase } = window.CQ;
  const sections = ["choose", "confirm", "booking", "ticket"];
  const kiosk = params.get("kiosk");
  const PRINT_WAIT_MS = 20000;
  // A visit left unfinished (no answer, the patient walked away) lapses: the next patient's tap
  // must not be answered with a ticket issued long ago.
  const VISIT_MS = 120000;
  let visit = { keys: {}, at: 0 };
  let busy = false;
  let backTimer = null;
  let printRun = 0; // bumped per ticket, so a late answer about an earlier ticket is dropped
  let printJob = null;
  let offered = null; // a ticket shown again, to print only when asked
  let onDuty = {}; // service -> doctors on duty, from the live board
  let hours = {}; // service -> [first start, last end] of today's schedules, "HH:MM"
  let asked = null; // the service the confirmation is about

  function show(id, stayMs) {
    for (const s of sections) document.getElementById(s).hidden = s !== id;
    stay = id === "choose" ? 0 : stayMs || IDLE_MS;
    idle();
    if (id === "choose") {
      printRun += 1;
      say("", false); // the next patient must not read "checked in" or the last one's error
      forget();
      if (reloadPending) reloadPending();
    }
  }

  // -- time to finish: a slow typist is not dropped, the next patient sees nothing of the last --
  // Every touch or key restarts the wait; a booking form left alone asks "ещё нужно время?"
  // for ASK_MS before the kiosk returns to its start (issue 16).
  const IDLE_MS = 45000;
  const ASK_MS = 20000;
  let stay = 0; // how long the current screen waits for the patient; 0 on the first screen
  const more = document.getElementById("more-time");

  function idle() {
    clearTimeout(backTimer);
    more.hidden = true;
    if (stay) backTimer = setTimeout(timeUp, stay);
  }

  function timeUp() {
    if (document.getElementById("booking").hidden) { show("choose"); return; }
    more.hidden = false;
    document.getElementById("more-time-yes").focus();
    backTimer = setTimeout(() => show("choose"), ASK_MS);
  }

  for (const kind of ["pointerdown", "keydown", "input"]) document.addEventListener(kind, () => { if (stay) idle(); }, true);
  document.getElementById("more-time-yes").addEventListener("click", () => choose(field));

  // Back at the start: what the last patient typed or was given leaves the page, not only the view.
  function forget() {
    for (const f of fields) { f.value = ""; f.classList.remove("active"); }
    for (const id of ["ticket-number", "ticket-service", "ticket-time", "ticket-doctor", "ticket-cabinet", "ticket-ahead", "ticket-wait"]) {
      document.getElementById(id).textContent = "";
    }
    document.getElementById("ticket-appointment").hidden = true;
    const qr = document.getElementById("ticket-qr");
    qr.removeAttribute("src");
    qr.dataset.link = "";
  }

  // A new clinic configuration reloads the page, but never under a patient reading their ticket
  // or typing a booking code: only once the kiosk is back at its first screen.
  let reloadPending = null;
  function reloadWhenIdle(go) {
    if (document.getElementById("choose").hidden) reloadPending = go;
    else go();
  }

  function printState(state, why) {
    const node = document.getElementById("print-state");
    node.hidden = !state;
    node.dataset.state = state;
    node.dataset.why = why || ""; // "unconfirmed": sent, but the printer never said it printed
    node.textContent = state ? t("print_" + (why || state)) : "";
    document.getElementById("ticket").classList.toggle("fallback", state === "fallback");
    document.getElementById("reprint").hidden = !(state === "fallback" && printJob);
    if (state === "fallback") show("ticket", 120000); // time to write the number down
  }

  const printBase = () => "/kiosks/" + encodeURIComponent(kiosk) + "/print";

  // Print through ``start`` (a request that answers the job) and follow the job to its end.
  async function print(start) {
    if (!kiosk) return;
    const run = ++printRun;
    const base = printBase();
    printState("printing");
    let job = null;
    try {
      job = await start();
      const deadline = Date.now() + PRINT_WAIT_MS;
      while (!job.done && Date.now() < deadline && run === printRun) {
        await new Promise((resolve) => setTimeout(resolve, 500));
        job = await api("GET", base + "/" + encodeURIComponent(job.id));
      }
    } catch (_) {
      // No answer about the printer is no paper as far as the patient can tell.
    }
    if (run !== printRun) return;
    if (job) printJob = job.id;
    printState(job && job.state === "printed" ? "printed" : "fallback", job && job.state === "unknown" ? "unconfirmed" : "");
  }

  function newKey() {
    // getRandomValues, unlike randomUUID, works on a kiosk served over plain http.
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return "kiosk-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function keyFor(what) {
    if (Date.now() - visit.at > VISIT_MS) visit = { keys: {}, at: 0 };
    visit.at = Date.now();
    visit.keys[what] = visit.keys[what] || newKey();
    return visit.keys[what];
  }

  // The request of this visit for ``what`` (a service, a booking); null when one is in flight.
  // ``refused(error)`` may take a refusal on itself (true); the rest are said on the page.
  async function once(what, path, body, refused) {
    if (busy) return null;
    busy = true;
    document.querySelector("main.kiosk").setAttribute("aria-busy", "true");
    try {
      return await api("POST", path, body, { key: keyFor(what) });
    } catch (e) {
      // No status: the answer was lost on the way; the same tap again is safe (the same key).
      if (!(refused && e.status && refused(e))) say(e.status ? e.message : t("kiosk_retry"), true);
      return null;
    } finally {
      busy = false;
      document.querySelector("main.kiosk").removeAttribute("aria-busy");
    }
  }

  function statusLink(path) {
    const push = params.get("push");
    return location.origin + path + (push ? "?push=" + encodeURIComponent(pushBase()) : "");
  }

  function showAppointment(view) {
    const booked = view.appointment;
    document.getElementById("ticket-appointment").hidden = !booked;
    if (!booked) return;
    // The time is the clinic's wall clock as the server wrote it, whatever the kiosk's zone.
    document.getElementById("ticket-time").textContent = t("appointment_at", { time: booked.time.slice(11, 16) });
    document.getElementById("ticket-doctor").textContent = t("appointment_doctor", { doctor: booked.doctor_name });
    document.getElementById("ticket-cabinet").textContent = booked.cabinet ? cabinetName(booked.cabinet) : "";
  }

  // Minutes past an hour read as hours: "До приёма: 9 ч 13 мин", not "≈ 553 мин".
  function waitLine(view) {
    const minutes = view.expected_wait_minutes;
    if (!view.appointment) return minutes === null || minutes === undefined ? unstaffedText(view.service) : waitText(minutes);
    if (!minutes) return t("appointment_due");
    if (minutes < 60) return t("appointment_in", { minutes });
    return t("appointment_in_hours", { hours: Math.floor(minutes / 60), minutes: minutes % 60 });
  }

  function hoursText(service) {
    const span = hours[service];
    return span ? t("kiosk_hours_today", { start: span[0], end: span[1] }) : "";
  }

  function unstaffedText(service) {
    const when = hoursText(service);
    return t("kiosk_nobody_now") + (when ? ", " + when : "");
  }

  function showTicket(view) {
    visit = { keys: {}, at: 0 }; // the visit ends with its ticket on screen
    const booked = view.appointment;
    document.getElementById("ticket-number").textContent = view.number;
    document.getElementById("ticket-service").textContent = view.service_name || serviceName(view.service);
    showAppointment(view);
    // A booked patient is called at their time: "nobody ahead" would promise a call now.
    const ahead = view.ahead ? t("ahead", { count: view.ahead }) : booked ? "" : t("ahead_none");
    document.getElementById("ticket-ahead").textContent = ahead;
    document.getElementById("ticket-wait").textContent = waitLine(view);
    // The status link is the patient's own capability; a ticket without one gets no QR code.
    const link = view.status_url ? statusLink(view.status_url) : "";
    const qr = document.getElementById("ticket-qr");
    qr.hidden = !link;
    if (link) qr.src = "/displays/qr.png?data=" + encodeURIComponent(link);
    qr.dataset.link = link;
    say("", false);
    printJob = null;
    offered = null;
    printState("");
    show("ticket");
  }

  // A ticket shown again (a repeated check-in): paper only when the patient asks for it. The
  // first print's job is reprinted; a ticket never printed here prints for the first time.
  function offerPrint(view) {
    if (!kiosk) return;
    offered = view.id;
    document.getElementById("reprint").hidden = false;
  }

  async function printOffered() {
    const job = await api("POST", printBase(), { ticket: offered });
    return job.done ? api("POST", printBase() + "/" + encodeURIComponent(job.id) + "/reprint", {}) : job;
  }

  async function take(service) {
    const view = await once("service:" + service, "/tickets", { service, channel: "kiosk" });
    if (!view) return;
    showTicket(view);
    print(() => api("POST", printBase(), { ticket: view.id }));
  }

  function ask(service) {
    asked = service;
    document.getElementById("confirm-service").textContent = serviceName(service);
    const when = hoursText(service);
    const node = document.getElementById("confirm-hours");
    node.textContent = when;
    node.hidden = !when;
    show("confirm", 30000);
  }

  for (const button of document.querySelectorAll("button.service[data-service]")) {
    const service = button.dataset.service;
    // Unknown (no board yet) is not "nobody": only a board that says 0 doctors asks first.
    button.addEventListener("click", () => (onDuty[service] === 0 ? ask(service) : take(service)));
  }
  document.getElementById("confirm-take").addEventListener("click", () => {
    if (asked) take(asked);
  });

  // -- the booking form and its keypad ------------------------------------------------------
  const fields = [document.getElementById("booking-code"), document.getElementById("booking-patient")];
  let field = fields[0];

  function choose(input) {
    field = input;
    for (const f of fields) f.classList.toggle("active", f === input);
    input.focus();
  }

  for (const f of fields) f.addEventListener("focus", () => choose(f));
  for (const key of document.querySelectorAll("#keypad .key")) {
    key.addEventListener("click", () => {
      if (key.hasAttribute("data-erase")) field.value = field.value.slice(0, -1);
      else if (field.value.length < field.maxLength) field.value += key.dataset.key;
      choose(field); // back to the field: a physical keyboard types on where the keypad left off
    });
  }

  document.getElementById("booking-open").addEventListener("click", () => {
    for (const f of fields) f.value = "";
    show("booking");
    choose(fields[0]);
  });
  document.getElementById("reprint").addEventListener("click", () => {
    if (printJob) print(() => api("POST", printBase() + "/" + encodeURIComponent(printJob) + "/reprint", {}));
    else if (offered) print(printOffered);
  });
  for (const back of document.querySelectorAll("button.back")) back.addEventListener("click", () => show("choose"));
  document.getElementById("booking-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const [code, patient] = fields.map((f) => f.value.trim());
    const empty = fields.find((f) => !f.value.trim());
    if (empty) {
      // The next field to fill, rather than a browser's tooltip: the code, then the number.
      choose(empty);
      say(t("kiosk_fill_in", { field: empty.closest("label").firstChild.textContent.trim() }), true);
      return;
    }
    const path = "/reservations/" + encodeURIComponent(code) + "/check-in";
    const view = await once("booking:" + code + "\n" + patient, path, { patient }, (refusal) => {
      // Checked in before: the same ticket again, for a patient who lost the paper.
      const ticket = refusal.code === "already_checked_in" && refusal.detail && refusal.detail.ticket;
      if (!ticket) return false;
      showTicket(ticket);
      offerPrint(ticket);
      say(t("kiosk_checked_in_again"), false);
      return true;
    });
    if (!view) return;
    showTicket(view.ticket);
    print(() => api("POST", printBase(), { ticket: view.ticket.id }));
    say(t("kiosk_checked_in"), false);
  });

  // Today's scheduled hours of each service, for the tiles of services nobody serves now.
  async function loadHours() {
    try {
      const listed = await api("GET", "/slots");
      const spans = {};
      for (const slot of listed.slots) {
        const start = slot.start.slice(11, 16); // the clinic's wall clock, as the server wrote it
        const [h, m] = start.split(":").map(Number);
        const endMin = h * 60 + m + slot.minutes;
        const end = String(Math.floor(endMin / 60) % 24).padStart(2, "0") + ":" + String(endMin % 60).padStart(2, "0");
        const span = spans[slot.service] || [start, end];
        spans[slot.service] = [start < span[0] ? start : span[0], end > span[1] ? end : span[1]];
      }
      hours = spans;
    } catch (_) {
      hours = {}; // without the schedules the tile says only that nobody is serving now
    }
    paintTiles();
  }

  function paintTiles() {
    for (const button of document.querySelectorAll("button.service[data-service]")) {
      const service = button.dataset.service;
      const nobody = onDuty[service] === 0;
      button.classList.toggle("unstaffed", nobody);
      const hoursNode = button.querySelector("[data-hours]");
      hoursNode.textContent = nobody ? hoursText(service) : "";
    }
  }

  loadHours();
  setInterval(loadHours, 10 * 60000); // the day turns, and schedules may change

  live({
    credential: "token=" + encodeURIComponent(token),
    reloadWhen: reloadWhenIdle,
    onBoard(board) {
      for (const q of board.queues) {
        onDuty[q.service] = q.on_duty;
        const node = document.querySelector('[data-eta="' + q.service + '"]');
        if (node) node.textContent = q.on_duty === 0 ? t("kiosk_nobody_now") : waitText(q.expected_wait_minutes);
      }
      paintTiles();
    },
  });
})();
