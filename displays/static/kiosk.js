/* Kiosk: choose a service (or check in a booking by its code), get the ticket with its QR code. */
(function () {
  "use strict";
  const { t, api, live, waitText, serviceName, say, params, token, pushBase } = window.CQ;
  const sections = ["choose", "booking", "ticket"];
  let backTimer = null;

  function show(id) {
    for (const s of sections) document.getElementById(s).hidden = s !== id;
    clearTimeout(backTimer);
    if (id !== "choose") backTimer = setTimeout(() => show("choose"), 45000);
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
    const link = statusLink(view.status_url || "/t/" + window.CQ.cfg.clinic.id + "/" + view.id);
    const qr = document.getElementById("ticket-qr");
    qr.src = "/displays/qr.png?data=" + encodeURIComponent(link);
    qr.dataset.link = link;
    say("", false);
    show("ticket");
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
  for (const back of document.querySelectorAll("button.back")) back.addEventListener("click", () => show("choose"));
  document.getElementById("booking-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const code = document.getElementById("booking-code").value.trim();
    try {
      const view = await api("POST", "/reservations/" + encodeURIComponent(code) + "/check-in", {});
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
