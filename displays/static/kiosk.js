/* Kiosk: choose a service (or check in a booking by its code), get the ticket with its QR code.
 *
 * With ?kiosk=<id> the ticket is also printed on that kiosk's printer. The ticket is already
 * issued and on screen; printing only adds paper. When the job fails (no paper, printer offline)
 * or does not finish in time, the screen says so and keeps the number and QR large for longer. */
(function () {
  "use strict";
  const { t, api, live, waitText, serviceName, say, params, token, pushBase } = window.CQ;
  const sections = ["choose", "booking", "ticket"];
  const kiosk = params.get("kiosk");
  const PRINT_WAIT_MS = 20000;
  let backTimer = null;
  let printRun = 0; // bumped per ticket, so a late answer about an earlier ticket is dropped
  let printJob = null;

  function show(id, stayMs) {
    for (const s of sections) document.getElementById(s).hidden = s !== id;
    clearTimeout(backTimer);
    if (id !== "choose") backTimer = setTimeout(() => show("choose"), stayMs || 45000);
    else printRun += 1;
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

  function statusLink(path) {
    const push = params.get("push");
    return location.origin + path + (push ? "?push=" + encodeURIComponent(pushBase()) : "");
  }

  function showTicket(view) {
    document.getElementById("ticket-number").textContent = view.number;
    document.getElementById("ticket-service").textContent = view.service_name || serviceName(view.service);
    document.getElementById("ticket-ahead").textContent = view.ahead ? t("ahead", { count: view.ahead }) : t("ahead_none");
    document.getElementById("ticket-wait").textContent = waitText(view.expected_wait_minutes);
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
    try {
      showTicket(await api("POST", "/tickets", { service, channel: "kiosk" }));
    } catch (e) {
      say(e.message, true);
    }
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
    try {
      const patient = document.getElementById("booking-patient").value.trim();
      const view = await api("POST", "/reservations/" + encodeURIComponent(code) + "/check-in", { patient });
      showTicket(view.ticket);
      say(t("kiosk_checked_in"), false);
    } catch (err) {
      say(err.message, true);
    }
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
