/* Information desk, bookings: a patient by their reference (masked once entered) or a booking
 * by its code; their bookings from today on, to check in, move (the next free time pressed) or
 * cancel (two presses); free times by service, doctor and day, a press books the patient. */
(function () {
  "use strict";
  const { cfg, t, api, el, serviceName } = window.CQ;
  const { $, tell, failText, once, arm, isArmed, disarm, card, print, hooks, today, timeOf, dayOf, code, doctorName, focusIn, ARM_MS } = window.DESK;

  // -- the patient and their bookings --------------------------------------------------------------------------

  let patient = null; // {ref, masked}: the reference stays here, never on screen after entry
  let byCode = null; // a booking looked up by its code (R12) instead
  let reservations = [];
  let moving = null; // the booking being moved: the next slot pressed is its new time
  const CODE = /^\s*[rRкКрР]\s*-?\s*(\d{1,9})\s*$/;

  // The last four digits of a reference, the rest dots.
  function mask(ref) {
    const digits = ref.replace(/[^0-9]/g, "");
    return "•••• " + digits.slice(-4); // a reference has six digits or more (the form's rule)
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

  // A booking read from the journal (source "journal": a past day's, no longer in the live
  // state) is shown for reference only: what became of it, and no button to change it.
  const isPast = (r) => r.source === "journal";

  function renderReservations() {
    $("reservations").replaceChildren(...reservations.map((r) => {
      if (isPast(r)) {
        return el("li", { "data-reservation": r.id, "data-state": r.state, "data-source": "journal" },
          el("span", { class: "booking" }, bookingText(r)), " ",
          el("span", { class: "res-state" }, t("desk_res_" + r.state)), " ",
          el("span", { class: "res-past" }, t("desk_res_past")));
      }
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
    // A reference the patient can also type at the kiosk (digits and R only): six digits or more.
    if (!asCode && digits.length < 6) {
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
      const [only] = reservations;
      tell("bookings", only && isPast(only) ? t("desk_booking_past", { code: code(only.id), date: dayOf(only.start), time: timeOf(only.start) })
        : reservations.length ? t("desk_bookings_found", { count: reservations.length }) : t("desk_no_bookings"), false);
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

  // Every change of service, doctor or day asks again, and only the newest answer is shown: a
  // slow answer to an earlier question must never put another doctor's times under this one.
  let slotsAsked = 0;

  function loadSlots() {
    setDateBounds();
    const service = $("slot-service").value;
    const doctor = $("slot-doctor").value;
    const date = $("slot-date").value;
    const asked = ++slotsAsked;
    $("slots").setAttribute("aria-busy", "true");
    (async () => {
      let slots;
      try {
        const query = "/slots?free=true&date=" + encodeURIComponent(date) + (doctor ? "&doctor=" + encodeURIComponent(doctor) : "");
        slots = (await api("GET", query)).slots.filter((s) => s.service === service);
      } catch (err) {
        if (asked !== slotsAsked) return;
        $("slots").removeAttribute("aria-busy");
        $("slots").replaceChildren();
        $("slots-hint").textContent = "";
        tell("bookings", failText(err), true);
        return;
      }
      if (asked !== slotsAsked) return; // a newer question is on its way
      $("slots").removeAttribute("aria-busy");
      const shown = dayOf(date + "T12:00:00Z");
      $("slots-hint").textContent = !slots.length ? t("desk_slots_none", { date: shown })
        : moving ? t("desk_slots_move", { date: shown, count: slots.length, code: code(moving.id) })
          : t("desk_slots_count", { date: shown, count: slots.length });
      $("slots").replaceChildren(...slots.map((s) => el("div", { role: "listitem" }, el("button", {
        type: "button", class: "slot", "data-slot": s.id, onclick: () => takeSlot(s),
      }, timeOf(s.start) + " · " + doctorName(s.doctor)))));
    })();
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

  // Arrows walk the grid of free times (a day of them is too many to Tab through); Enter books.
  $("slots").addEventListener("keydown", (e) => {
    const buttons = Array.from($("slots").querySelectorAll("button.slot"));
    const at = buttons.indexOf(document.activeElement);
    if (at < 0) return;
    const across = Math.max(1, Math.round($("slots").clientWidth / buttons[0].offsetWidth));
    const step = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: across, ArrowUp: -across, Home: -at, End: buttons.length }[e.code];
    if (step === undefined) return;
    e.preventDefault();
    buttons[Math.min(buttons.length - 1, Math.max(0, at + step))].focus();
  });

  hooks.escape.push(() => {
    if (moving) { stopMoving(); return true; }
    if (!focusIn("bookings")) return false;
    clearPatient();
    $("patient-ref").focus();
    return true;
  });
  fillDoctors();
  setDateBounds();
  showPatient();
})();
