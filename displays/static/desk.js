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
 * to photograph. */
(function () {
  "use strict";
  const { cfg, t, api, live, el, waitText, serviceName, cabinetName, queueBadge, params, token, pushBase, dead, isDead, tick } = window.CQ;
  const M = cfg.messages;
  const printer = cfg.printer || null;
  const ARM_MS = 5000;
  const REST_MS = 1200; // the issue button rests after a ticket: a double press lands in it
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

  function isArmed(what, id) {
    return !!armed && armed.what === what && armed.id === id;
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
    const qr = link ? el("img", { class: "qr", alt: "QR", src: "/displays/qr.png?data=" + encodeURIComponent(link) }) : null;
    if (qr) qr.dataset.link = link;
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
      el("p", { class: "print-state", role: "status" }));
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

  // -- 1. issue a ticket --------------------------------------------------------------------

  const issueForm = $("issue-form");
  const issueButton = $("issue-button");
  let issueKey = null; // the ticket the registrar means to issue now; kept until it is shown
  let issued = null;

  const chosen = (name) => issueForm.querySelector('input[name="' + name + '"]:checked').value;

  function priorityChanged() {
    const priority = chosen("priority");
    $("confirm-line").hidden = !priority;
    $("priority-confirmed").checked = false;
  }

  issueForm.addEventListener("change", (e) => {
    issueKey = null; // another service or category is another ticket
    if (e.target.name === "priority") priorityChanged();
  });

  issueForm.addEventListener("submit", (e) => {
    e.preventDefault();
    if (issueButton.disabled) return;
    const service = chosen("service");
    const priority = chosen("priority");
    if (priority && !$("priority-confirmed").checked) {
      tell("issue", t("desk_priority_unconfirmed"), true);
      $("priority-confirmed").focus();
      return;
    }
    issueKey = issueKey || newKey();
    const key = issueKey;
    once("issue", "issue", async () => {
      issueButton.disabled = true;
      let view;
      try {
        view = await api("POST", "/tickets", { service, priority, channel: "desk" }, { key });
      } catch (err) {
        // A refusal issued nothing: the next press is a new request. A lost answer, a busy
        // server or a rate limit keep the key, so pressing again cannot make a second ticket.
        if (err.status && err.status < 500 && err.status !== 429) issueKey = null;
        issueButton.disabled = false;
        tell("issue", failText(err), true);
        return;
      }
      issueKey = null;
      setTimeout(() => { issueButton.disabled = false; }, REST_MS);
      issued = view;
      tell("issue", t("desk_issued", { number: view.number, service: view.service_name }), false);
      card($("issued"), view);
      // A category is confirmed for one patient: the next starts from none.
      issueForm.querySelector('input[name="priority"][value=""]').checked = true;
      priorityChanged();
      print(view, $("issued"));
    });
  });

  // Enter on a radio or the checkbox issues, as on the button (one path, one guard).
  issueForm.addEventListener("keydown", (e) => {
    if (e.code !== "Enter" && e.code !== "NumpadEnter") return;
    if (e.target.tagName === "INPUT") { e.preventDefault(); issueForm.requestSubmit(); }
  });

  function chooseService(n) {
    const radios = issueForm.querySelectorAll('input[name="service"]');
    const radio = radios[n - 1];
    if (!radio) return;
    radio.checked = true;
    issueKey = null;
    radio.focus();
  }

  // -- 2. find a ticket ---------------------------------------------------------------------

  let found = null; // the ticket shown in the find section
  let foundRefresh = null;

  function showFound(view) {
    disarm();
    const link = found && found.id === view.id ? found.status_url : null;
    found = Object.assign({}, view, { status_url: view.status_url || link });
    card($("found"), found);
    $("found-list").hidden = true;
    const open = ["waiting", "called", "serving", "suspended"].includes(found.state);
    $("found-actions").hidden = false;
    $("reprint").disabled = !open;
    $("transfer").disabled = !open;
    $("transfer-to").disabled = !open;
    $("cancel-ticket").disabled = !["waiting", "called", "suspended"].includes(found.state);
    $("cancel-reason").disabled = $("cancel-ticket").disabled;
    const select = $("transfer-to");
    for (const option of select.options) option.disabled = option.value === found.service;
    if (select.value === found.service) {
      const other = Array.from(select.options).find((o) => !o.disabled);
      if (other) select.value = other.value;
    }
  }

  function clearFound() {
    disarm();
    found = null;
    $("found").hidden = true;
    $("found-actions").hidden = true;
    $("found-list").hidden = true;
  }

  // The ticket as it stands now (ahead, wait, cabinet), after the hall moved.
  function refreshFound(soon) {
    clearTimeout(foundRefresh);
    if (!found) return;
    const id = found.id;
    foundRefresh = setTimeout(async () => {
      if (!found || found.id !== id) return;
      try {
        const view = await api("GET", "/tickets/" + encodeURIComponent(id));
        if (found && found.id === id && !armed) showFound(view);
      } catch (_) { /* the next event tries again */ }
    }, soon ? 0 : 400);
  }

  $("find-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const number = $("find-number").value.trim();
    if (!number) return;
    once("find", "find", async () => {
      let out;
      try {
        out = await api("GET", "/tickets?number=" + encodeURIComponent(number));
      } catch (err) {
        clearFound();
        tell("find", failText(err), true);
        return;
      }
      const list = out.tickets;
      if (!list.length) {
        clearFound();
        tell("find", t("desk_found_none", { number }), true);
        return;
      }
      if (list.length === 1) {
        showFound(list[0]);
        tell("find", t("desk_found", { number: list[0].number, state: t("desk_state_" + list[0].state) }), false);
        return;
      }
      // Bare digits can name a ticket of each service: the registrar picks.
      clearFound();
      tell("find", t("desk_found_many", { count: list.length }), false);
      const box = $("found-list");
      box.replaceChildren(...list.map((v) => el("button", {
        type: "button", "data-ticket": v.id,
        onclick: () => { showFound(v); tell("find", t("desk_found", { number: v.number, state: t("desk_state_" + v.state) }), false); },
      }, v.number + " · " + v.service_name + " · " + t("desk_state_" + v.state))));
      box.hidden = false;
      box.querySelector("button").focus();
    });
  });

  function reprint(view, node) {
    if (!view) return;
    card(node, view);
    print(view, node);
  }

  $("reprint").addEventListener("click", () => reprint(found, $("found")));

  $("transfer").addEventListener("click", () => {
    if (!found) return;
    const ticket = found;
    const service = $("transfer-to").value;
    if (!isArmed("transfer", ticket.id + ">" + service)) {
      arm("transfer", ticket.id + ">" + service, $("transfer"), t("desk_transfer_confirm"), "find",
        t("desk_transfer_armed", { number: ticket.number, service: serviceName(service), seconds: ARM_MS / 1000 }));
      return;
    }
    disarm();
    once("ticket", "find", async () => {
      try {
        const view = await api("POST", "/tickets/" + encodeURIComponent(ticket.id) + "/transfer", { service });
        showFound(view);
        tell("find", t("desk_transferred", { number: view.number, service: view.service_name }), false);
        refreshFound(true);
      } catch (err) {
        tell("find", failText(err), true);
      }
    });
  });

  $("cancel-ticket").addEventListener("click", () => {
    if (!found) return;
    const ticket = found;
    const reason = $("cancel-reason").value;
    const why = t("desk_reason_" + reason);
    if (!isArmed("cancel", ticket.id + ":" + reason)) {
      arm("cancel", ticket.id + ":" + reason, $("cancel-ticket"), t("desk_cancel_confirm"), "find",
        t("desk_cancel_armed", { number: ticket.number, reason: why, seconds: ARM_MS / 1000 }));
      return;
    }
    disarm();
    once("ticket", "find", async () => {
      try {
        const view = await api("POST", "/tickets/" + encodeURIComponent(ticket.id) + "/cancel", { reason });
        showFound(view);
        tell("find", t("desk_cancelled", { number: view.number, reason: why }), false);
      } catch (err) {
        tell("find", failText(err), true);
      }
    });
  });

  // -- 3. bookings --------------------------------------------------------------------------

  let patient = null; // {ref, masked}: the reference stays here, never on screen after entry
  let byCode = null; // a booking looked up by its code (R12) instead
  let reservations = [];
  let moving = null; // the booking being moved: the next slot pressed is its new time
  const CODE = /^\s*[rRкКрР]\s*-?\s*(\d{1,9})\s*$/;

  // The last four digits (or two characters) of a reference, the rest dots.
  function mask(ref) {
    const digits = ref.replace(/[^0-9]/g, "");
    const tail = digits.length >= 6 ? digits.slice(-4) : ref.replace(/\s/g, "").slice(-2);
    return "•••• " + tail;
  }

  function showPatient() {
    const node = $("patient-shown");
    node.textContent = patient ? t("desk_patient_shown", { masked: patient.masked })
      : byCode ? t("desk_patient_code", { code: code(byCode) }) : t("desk_patient_none");
    node.toggleAttribute("data-empty", !patient && !byCode);
    $("patient-clear").hidden = !patient && !byCode;
  }

  function clearPatient() {
    patient = null;
    byCode = null;
    reservations = [];
    stopMoving();
    $("checked-in").hidden = true;
    showPatient();
    renderReservations();
    tell("bookings", "", false);
  }

  function bookingText(r) {
    return t("desk_booking_line", {
      code: code(r.id), date: dayOf(r.start), time: timeOf(r.start), doctor: doctorName(r.doctor), service: serviceName(r.service),
    });
  }

  function renderReservations() {
    $("reservations").replaceChildren(...reservations.map((r) => {
      const open = r.state === "held" || r.state === "confirmed";
      const button = (cls, label, onclick, enabled) =>
        el("button", { type: "button", class: cls, onclick, disabled: !enabled }, label);
      const moveButton = button("move", moving && moving.id === r.id ? t("desk_move_stop") : t("desk_move"),
        () => (moving && moving.id === r.id ? stopMoving() : startMoving(r)), open);
      const cancel = button("cancel danger", t("desk_cancel_booking"), (e) => cancelBooking(r, e.currentTarget), open);
      return el("li", { "data-reservation": r.id, "data-state": r.state, class: moving && moving.id === r.id ? "moving" : "" },
        el("span", { class: "booking" }, bookingText(r)), " ",
        el("span", { class: "res-state" }, t("desk_res_" + r.state)),
        el("span", { class: "buttons" },
          button("check-in", t("desk_check_in"), () => checkIn(r), r.state === "confirmed" && r.start.slice(0, 10) === today()),
          moveButton, cancel));
    }));
  }

  async function loadReservations() {
    if (byCode) {
      reservations = [await api("GET", "/reservations/" + encodeURIComponent(byCode))];
    } else if (patient) {
      reservations = (await api("POST", "/reservations/search", { patient: patient.ref })).reservations;
    } else {
      reservations = [];
    }
    renderReservations();
  }

  $("patient-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const input = $("patient-ref");
    const typed = input.value;
    input.value = ""; // entered, never shown again
    if (!typed.trim()) return;
    const asCode = CODE.exec(typed);
    const digits = typed.replace(/[^0-9]/g, "");
    if (!asCode && digits.length < 6 && typed.replace(/[\s-]/g, "").length < 2) {
      tell("bookings", t("desk_patient_short"), true);
      return;
    }
    stopMoving();
    $("checked-in").hidden = true;
    patient = asCode ? null : { ref: typed.trim(), masked: mask(typed) };
    byCode = asCode ? "r" + asCode[1] : null;
    showPatient();
    once("patient", "bookings", async () => {
      try {
        await loadReservations();
      } catch (err) {
        reservations = [];
        renderReservations();
        tell("bookings", failText(err), true);
        return;
      }
      tell("bookings", reservations.length ? t("desk_bookings_found", { count: reservations.length }) : t("desk_no_bookings"), false);
    });
  });

  $("patient-clear").addEventListener("click", () => { clearPatient(); $("patient-ref").focus(); });

  function checkIn(r) {
    once("booking", "bookings", async () => {
      let view;
      try {
        view = (await api("POST", "/reservations/" + encodeURIComponent(r.id) + "/check-in", {})).ticket;
        tell("bookings", t("desk_checked_in", { number: view.number }), false);
      } catch (err) {
        const first = err.code === "already_checked_in" && err.detail && err.detail.ticket;
        tell("bookings", failText(err, { number: first ? first.number : "" }), true);
        if (!first) return;
        view = first; // a patient who lost the paper gets the same ticket again
      }
      card($("checked-in"), view);
      print(view, $("checked-in"));
      try { await loadReservations(); } catch (_) { /* the list stays as it was */ }
    });
  }

  function cancelBooking(r, button) {
    if (!isArmed("booking", r.id)) {
      arm("booking", r.id, button, t("desk_cancel_confirm"), "bookings",
        t("desk_booking_cancel_armed", { code: code(r.id), date: dayOf(r.start), time: timeOf(r.start), seconds: ARM_MS / 1000 }));
      return;
    }
    disarm();
    once("booking", "bookings", async () => {
      try {
        await api("POST", "/reservations/" + encodeURIComponent(r.id) + "/cancel", {});
        if (moving && moving.id === r.id) stopMoving();
        tell("bookings", t("desk_booking_cancelled", { code: code(r.id) }), false);
        await loadReservations();
        if (!$("slots").hidden && $("slots").childElementCount) loadSlots();
      } catch (err) {
        tell("bookings", failText(err), true);
      }
    });
  }

  function startMoving(r) {
    disarm();
    moving = r;
    const service = $("slot-service");
    service.value = r.service;
    service.disabled = true; // a booking moves within its service (the engine's rule too)
    fillDoctors();
    renderReservations();
    tell("bookings", t("desk_move_pick", { code: code(r.id), service: serviceName(r.service) }), false);
    loadSlots();
  }

  function stopMoving() {
    if (!moving) return;
    moving = null;
    $("slot-service").disabled = false;
    renderReservations();
    tell("bookings", "", false);
    if ($("slots").childElementCount) loadSlots();
  }

  // -- free slots -----------------------------------------------------------------------

  function fillDoctors() {
    const service = $("slot-service").value;
    const select = $("slot-doctor");
    const keep = select.value;
    const doctors = cfg.clinic.doctors.filter((d) => d.services.includes(service));
    select.replaceChildren(el("option", { value: "" }, t("desk_any_doctor")),
      ...doctors.map((d) => el("option", { value: d.id }, d.name)));
    select.value = doctors.some((d) => d.id === keep) ? keep : "";
  }

  function setDateBounds() {
    const input = $("slot-date");
    const first = today();
    const last = new Date(first + "T12:00:00Z");
    last.setUTCDate(last.getUTCDate() + (cfg.booking_days || 14));
    input.min = first;
    input.max = last.toISOString().slice(0, 10);
    if (!input.value || input.value < input.min || input.value > input.max) input.value = first;
  }

  function loadSlots() {
    setDateBounds();
    const service = $("slot-service").value;
    const doctor = $("slot-doctor").value;
    const date = $("slot-date").value;
    once("slots", "bookings", async () => {
      let slots;
      try {
        const query = "/slots?free=true&date=" + encodeURIComponent(date) + (doctor ? "&doctor=" + encodeURIComponent(doctor) : "");
        slots = (await api("GET", query)).slots.filter((s) => s.service === service);
      } catch (err) {
        $("slots").replaceChildren();
        $("slots-hint").textContent = "";
        tell("bookings", failText(err), true);
        return;
      }
      const shown = dayOf(date + "T12:00:00Z");
      $("slots-hint").textContent = !slots.length ? t("desk_slots_none", { date: shown })
        : moving ? t("desk_slots_move", { date: shown, count: slots.length, code: code(moving.id) })
          : t("desk_slots_count", { date: shown, count: slots.length });
      $("slots").replaceChildren(...slots.map((s) => el("button", {
        type: "button", class: "slot", "data-slot": s.id, role: "listitem", onclick: () => takeSlot(s),
      }, timeOf(s.start) + " · " + doctorName(s.doctor))));
    });
  }

  function takeSlot(slot) {
    if (moving) {
      const r = moving;
      once("booking", "bookings", async () => {
        try {
          const moved = await api("POST", "/reservations/" + encodeURIComponent(r.id) + "/move", { slot: slot.id });
          moving = null;
          $("slot-service").disabled = false;
          tell("bookings", t("desk_moved", { code: code(moved.id), date: dayOf(moved.start), time: timeOf(moved.start), doctor: doctorName(moved.doctor) }), false);
          await loadReservations();
        } catch (err) {
          tell("bookings", failText(err), true);
        }
        loadSlots();
      });
      return;
    }
    if (!patient) {
      tell("bookings", t("desk_slots_need_patient"), true);
      $("patient-ref").focus();
      return;
    }
    const who = patient;
    once("booking", "bookings", async () => {
      try {
        const made = await api("POST", "/slots/" + encodeURIComponent(slot.id) + "/reservation",
          { patient: who.ref, channel: "desk", confirm: true });
        tell("bookings", t("desk_booked", { code: code(made.id), date: dayOf(made.start), time: timeOf(made.start), doctor: doctorName(made.doctor) }), false);
        if (patient === who) await loadReservations();
      } catch (err) {
        tell("bookings", failText(err), true);
      }
      loadSlots();
    });
  }

  $("slot-service").addEventListener("change", () => { fillDoctors(); loadSlots(); });
  $("slot-doctor").addEventListener("change", loadSlots);
  $("slot-date").addEventListener("change", loadSlots);
  $("slots-form").addEventListener("submit", (e) => { e.preventDefault(); loadSlots(); });

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

  function focusIn(id) {
    return $(id).contains(document.activeElement);
  }

  document.addEventListener("keydown", (e) => {
    if (isDead()) return; // under the "no connection" cover, as its buttons are
    const typing = ["TEXTAREA", "SELECT"].includes(e.target.tagName)
      || (e.target.tagName === "INPUT" && !["radio", "checkbox"].includes(e.target.type));
    const digit = /^(Digit|Numpad)([1-9])$/.exec(e.code);
    if (e.code === "F2") { e.preventDefault(); (issueForm.querySelector('input[name="service"]:checked') || issueButton).focus(); return; }
    if (e.code === "F3") { e.preventDefault(); $("find-number").focus(); $("find-number").select(); return; }
    if (e.code === "F4") { e.preventDefault(); $("patient-ref").focus(); return; }
    if (digit && (e.altKey || (!typing && focusIn("issue"))) && !e.ctrlKey && !e.metaKey) {
      e.preventDefault();
      chooseService(Number(digit[2]));
      return;
    }
    if (e.altKey && e.code === "KeyP") {
      e.preventDefault();
      if (found && !$("reprint").disabled) reprint(found, $("found"));
      else if (issued) reprint(issued, $("issued"));
      return;
    }
    if (e.code === "Escape") {
      if (disarm()) { tell(focusIn("bookings") ? "bookings" : "find", "", false); return; }
      if (moving) { stopMoving(); return; }
      if (focusIn("bookings")) { clearPatient(); $("patient-ref").focus(); return; }
      if (focusIn("find")) { clearFound(); tell("find", "", false); $("find-number").value = ""; $("find-number").focus(); }
    }
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

  tick("clock");
  fillDoctors();
  setDateBounds();
  showPatient();
  mayWork().then((ok) => ok && live({
    credential: "token=" + encodeURIComponent(token),
    offlineCover: true, // a desk without the live hall must not look like a working one
    onBoard(board) { renderHall(board); if (found) refreshFound(false); },
    onEvent(ev) { if (found && ev.ticket) refreshFound(false); },
  }));
})();
