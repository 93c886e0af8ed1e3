/* Kiosk: choose a service (or check in a booking by its code), get the ticket with its QR code.
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
  const sections = ["choose", "booking", "ticket"];
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

  function show(id, stayMs) {
    for (const s of sections) document.getElementById(s).hidden = s !== id;
    clearTimeout(backTimer);
    if (id !== "choose") backTimer = setTimeout(() => show("choose"), stayMs || 45000);
    else {
      printRun += 1;
      say("", false); // the next patient must not read "checked in" or the last one's error
    }
  }

  function printState(state) {
    const node = document.getElementById("print-state");
    node.hidden = !state;
    node.dataset.state = state;
    node.textContent = state ? t("print_" + state) : "";
    document.getElementById("ticket").classList.toggle("fallback", state === "fallback");
    document.getElementById("reprint").hidden = !(state === "fallback" && printJob);
    if (state === "fallback") show("ticket", 120000); // time to write the number down
  }

  async function print(path, body) {
    if (!kiosk) return;
    const run = ++printRun;
    const base = "/kiosks/" + encodeURIComponent(kiosk) + "/print";
    printState("printing");
    let job = null;
    try {
      job = await api("POST", base + path, body);
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
    printState(job && job.state === "printed" ? "printed" : "fallback");
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
  async function once(what, path, body) {
    if (busy) return null;
    busy = true;
    document.querySelector("main.kiosk").setAttribute("aria-busy", "true");
    try {
      return await api("POST", path, body, { key: keyFor(what) });
    } catch (e) {
      // No status: the answer was lost on the way; the same tap again is safe (the same key).
      say(e.status ? e.message : t("kiosk_retry"), true);
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

  function showTicket(view) {
    visit = { keys: {}, at: 0 }; // the visit ends with its ticket on screen
    const booked = view.appointment;
    document.getElementById("ticket-number").textContent = view.number;
    document.getElementById("ticket-service").textContent = view.service_name || serviceName(view.service);
    showAppointment(view);
    // A booked patient is called at their time: "nobody ahead" would promise a call now.
    const ahead = view.ahead ? t("ahead", { count: view.ahead }) : booked ? "" : t("ahead_none");
    document.getElementById("ticket-ahead").textContent = ahead;
    const minutes = view.expected_wait_minutes;
    document.getElementById("ticket-wait").textContent = !booked ? waitText(minutes)
      : minutes ? t("appointment_in", { minutes }) : t("appointment_due");
    // The status link is the patient's own capability; a ticket without one gets no QR code.
    const link = view.status_url ? statusLink(view.status_url) : "";
    const qr = document.getElementById("ticket-qr");
    qr.hidden = !link;
    if (link) qr.src = "/displays/qr.png?data=" + encodeURIComponent(link);
    qr.dataset.link = link;
    say("", false);
    printJob = null;
    printState("");
    show("ticket");
    print("", { ticket: view.id });
  }

  async function take(service) {
    const view = await once("service:" + service, "/tickets", { service, channel: "kiosk" });
    if (view) showTicket(view);
  }

  for (const button of document.querySelectorAll("button.service[data-service]")) {
    button.addEventListener("click", () => take(button.dataset.service));
  }
  document.getElementById("booking-open").addEventListener("click", () => {
    show("booking");
    document.getElementById("booking-code").focus();
  });
  document.getElementById("reprint").addEventListener("click", () => {
    if (printJob) print("/" + encodeURIComponent(printJob) + "/reprint", {});
  });
  for (const back of document.querySelectorAll("button.back")) back.addEventListener("click", () => show("choose"));
  document.getElementById("booking-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const code = document.getElementById("booking-code").value.trim();
    const patient = document.getElementById("booking-patient").value.trim();
    const path = "/reservations/" + encodeURIComponent(code) + "/check-in";
    const view = await once("booking:" + code + "\n" + patient, path, { patient });
    if (!view) return;
    showTicket(view.ticket);
    say(t("kiosk_checked_in"), false);
  });

  live({
    credential: "token=" + encodeURIComponent(token),
    onBoard(board) {
      for (const q of board.queues) {
        const node = document.querySelector('[data-eta="' + q.service + '"]');
        if (node) node.textContent = waitText(q.expected_wait_minutes);
      }
    },
  });
})();
