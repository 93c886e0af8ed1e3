/* The ICU doctor's desk: patients, their relatives' consent, the day's vitals, the next daily
 * SMS exactly as each relative will get it, what was sent, and the alerts.
 *
 * Everything is read from the ICU API (/api/v1/icu/...) with the page's token. The alerts and
 * the patient list are read again every REFRESH_MS, and the open patient's next message and
 * history too: a delivery report or a death recorded at another desk shows here within that.
 */
(function () {
  "use strict";
  const { cfg, params, t, api, el } = window.CQ;
  const ICU = "/api/v1/icu";
  const REFRESH_MS = 15000;
  const zone = cfg.clinic.timezone;
  const when = new Intl.DateTimeFormat(cfg.messages.lang,
    { day: "2-digit", month: "2-digit", hour: "2-digit", minute: "2-digit", timeZone: zone });
  const day = new Intl.DateTimeFormat(cfg.messages.lang, { day: "2-digit", month: "2-digit", year: "numeric", timeZone: "UTC" });
  const INTEGER = new Set(["pulse", "bp_systolic", "bp_diastolic", "spo2", "heart_rate", "respiratory_rate"]);
  // The form's fields and the names the limits are given under.
  const LIMIT_OF = { temperature: "temperature", pulse: "pulse", bp_systolic: "systolic",
    bp_diastolic: "diastolic", spo2: "spo2", heart_rate: "heart_rate", respiratory_rate: "respiratory_rate" };

  let rules = null;
  let patients = [];
  let open = params.get("patient") || null;

  const $ = (id) => document.getElementById(id);
  const at = (iso) => (iso ? when.format(new Date(iso)) : "—");
  const doctorName = (id) => (cfg.clinic.doctors.find((d) => d.id === id) || { name: id || "—" }).name;

  function say(where, text, isError) {
    const node = document.querySelector(`.message[data-for="${where}"]`);
    node.textContent = text;
    node.dataset.kind = isError ? "error" : "ok";
    node.setAttribute("role", isError ? "alert" : "status");
  }

  function refusal(e) {
    const own = e.code && cfg.messages["icu_err_" + e.code];
    return own || e.message;
  }

  async function loadRules() {
    rules = await api("GET", ICU + "/rules");
    const quiet = rules.quiet_start === rules.quiet_end ? "icu_schedule_no_quiet" : "icu_schedule";
    $("schedule").textContent = t(quiet, {
      time: rules.send_at, quiet_start: rules.quiet_start, quiet_end: rules.quiet_end, zone: rules.timezone });
    for (const name in rules.limits) {
      const limit = rules.limits[name];
      limit.unit = cfg.messages["icu_unit_" + limit.unit] || limit.unit;
    }
    for (const field in LIMIT_OF) {
      const limit = rules.limits[LIMIT_OF[field]];
      $("hint-" + field).textContent = t("icu_range", { low: limit.low, high: limit.high, unit: limit.unit });
    }
  }

  // -- the alerts and the patient list --------------------------------------------------------

  async function loadAlerts() {
    const { alerts } = await api("GET", ICU + "/alerts");
    const shown = alerts.slice(-8).reverse();
    $("alerts").hidden = shown.length === 0;
    $("alert-list").replaceChildren(...shown.map((a) => {
      const who = patients.find((p) => p.patient_id === a.patient_id);
      const text = cfg.messages["icu_alert_" + a.kind] || t("icu_alert_unknown", { message: a.message });
      return el("li", { "data-kind": a.kind, "data-alert": a.id },
        el("b", {}, text), " ", who ? who.label + " (" + who.patient_id + ") " : "", el("span", { class: "dim" }, at(a.created_at)));
    }));
  }

  async function loadPatients() {
    patients = (await api("GET", ICU + "/patients")).patients;
    $("patient-list").replaceChildren(...patients.map((p) => el("li", {},
      el("button", { class: "patient-item", "data-patient": p.patient_id, "data-status": p.status,
        "aria-current": p.patient_id === open ? "true" : "false", onclick: () => select(p.patient_id) },
        el("span", { class: "who" }, p.label || p.patient_id),
        el("span", { class: "id" }, p.patient_id),
        el("span", { class: "status-badge", "data-status": p.status }, t("icu_status_" + p.status)),
        el("span", { class: "dim" }, t("icu_relatives_n", { count: p.relatives }) + " · " +
          t("icu_vitals_at", { time: at(p.observed_at) }))))));
  }

  // -- one patient ------------------------------------------------------------------------------

  function select(id) {
    open = id;
    const url = new URL(location.href);
    url.searchParams.set("patient", id);
    history.replaceState(null, "", url);
    for (const node of document.querySelectorAll(".patient-item")) {
      node.setAttribute("aria-current", node.dataset.patient === id ? "true" : "false");
    }
    for (const where of ["status", "vitals", "relatives"]) say(where, "");
    $("vitals").reset();
    checkAll();
    return loadPatient();
  }

  async function loadPatient() {
    if (!open) return;
    const base = ICU + "/patients/" + encodeURIComponent(open);
    let found;
    try {
      found = await Promise.all([api("GET", base + "/relatives"), api("GET", base + "/observations"),
        api("GET", base + "/next-message"), api("GET", base + "/messages")]);
    } catch (e) {
      if (e.status === 404) { open = null; $("patient").hidden = true; $("empty").hidden = false; return; }
      throw e;
    }
    const [relatives, latest, next, sent] = found;
    const patient = patients.find((p) => p.patient_id === open) || { patient_id: open, label: open, status: next.status };
    $("empty").hidden = true;
    $("patient").hidden = false;
    $("patient").dataset.patient = open;
    $("p-label").textContent = (patient.label || open) + " · " + open;
    $("p-status").textContent = t("icu_status_" + next.status);
    $("p-status").dataset.status = next.status;
    $("p-doctor").textContent = t("icu_attending_is", { name: doctorName(patient.attending_doctor) });
    for (const b of document.querySelectorAll(".actions button[data-status]")) {
      const to = b.dataset.status;
      // A death is final; the others leave the ICU, and a patient who left may come back.
      b.hidden = next.status === "deceased" || (to === "admitted") === (next.status === "admitted");
    }
    // Vitals and new relatives are for a patient in the ICU; the history stays for all.
    const here = next.status === "admitted";
    $("vitals-card").hidden = !here;
    $("add-relative").hidden = !here;
    showLatest(latest);
    showNext(next);
    showRelatives(relatives.relatives);
    showSent(sent.messages);
  }

  function shownValue(name, v) {
    if (name === "blood_pressure") return v[0] + "/" + v[1];
    if (name === "conscious" || name === "ventilator") return t(v ? "icu_yes" : "icu_no");
    if (name === "dynamics") return t("icu_dyn_" + v);
    return String(v).replace(".", cfg.messages.lang.startsWith("ru") ? "," : ".");
  }

  function showLatest(latest) {
    for (const node of document.querySelectorAll("[data-latest]")) {
      const name = node.dataset.latest;
      const key = name === "bp_systolic" ? "blood_pressure" : name === "bp_diastolic" ? null : name;
      const reading = key && latest[key];
      node.textContent = reading ? t(reading.stale ? "icu_latest_stale" : "icu_latest",
        { value: shownValue(key, reading.value), time: at(reading.measured_at) }) : "";
      node.dataset.stale = reading && reading.stale ? "true" : "false";
    }
  }

  function fieldNames(names) {
    return names.map((n) => t("icu_v_" + n)).join(", ");
  }

  function showNext(next) {
    $("next-when").textContent = next.status === "admitted"
      ? t("icu_next_when", { date: day.format(new Date(next.local_date + "T00:00:00Z")), time: at(next.send_at) }) : "";
    const warn = [];
    if (next.status === "admitted" && next.stale.length) warn.push(t("icu_stale_at_send", { fields: fieldNames(next.stale) }));
    if (next.status === "admitted" && next.missing.length) warn.push(t("icu_missing_at_send", { fields: fieldNames(next.missing) }));
    $("next-warning").hidden = warn.length === 0;
    $("next-warning").textContent = warn.join(" ");
    let body;
    if (next.status !== "admitted") body = [el("p", { class: "dim" }, t("icu_no_sending_" + next.status))];
    else if (!next.messages.length) body = [el("p", { class: "dim" }, t("icu_no_relatives"))];
    else body = next.messages.map((m) => el("div", { class: "sms", "data-relative": m.relative_id },
      el("div", { class: "sms-head" }, "→ ", el("b", {}, m.to), " · " + m.relation + " · " + m.language.toUpperCase() +
        (m.segments ? " · " + t("icu_segments", { count: m.segments }) : "")),
      m.problem ? el("p", { class: "error" }, t("icu_err_message_too_long"))
        : el("pre", { class: "sms-text", lang: m.language }, m.text)));
    $("next-messages").replaceChildren(...body);
  }

  // "icu_doctor:ivanova" is Иванова; a token without a doctor, or a relative's reply, as it is.
  function byWhom(by) {
    const [role, who] = by.split(":");
    const doctor = role === "icu_doctor" && cfg.clinic.doctors.find((d) => d.id === who);
    return doctor ? doctor.name : cfg.messages["icu_by_" + by.replace(":", "_")] || by;
  }

  function consentOf(r) {
    if (r.bad_number) return t("icu_consent_bad_number");
    return r.active ? t("icu_consent_active", { time: at(r.consent_since) }) : t("icu_consent_withdrawn");
  }

  function showRelatives(relatives) {
    $("relative-rows").replaceChildren(...relatives.map((r) => el("tr", { "data-relative": r.id, "data-active": String(r.active) },
      el("td", { class: "phone" }, r.phone), el("td", {}, r.relation), el("td", {}, r.language.toUpperCase()),
      el("td", {}, consentOf(r)),
      el("td", {}, el("ol", { class: "history" }, ...r.history.map((h) =>
        el("li", {}, (cfg.messages["icu_h_" + h.action] || h.action) + " · " + at(h.at) + " · " + byWhom(h.by))))),
      el("td", {}, r.active ? el("button", { onclick: () => withdraw(r) }, t("icu_withdraw")) : ""))));
  }

  function showSent(messages) {
    const rows = messages.slice().reverse().slice(0, 30);
    $("sent-rows").replaceChildren(...(rows.length ? rows.map((m) => el("tr", { "data-state": m.state },
      el("td", {}, day.format(new Date(m.local_date + "T00:00:00Z"))), el("td", { class: "phone" }, m.to),
      el("td", {}, t("icu_state_" + m.state) + (m.delivery ? " · " + (cfg.messages["icu_delivery_" + m.delivery] || m.delivery) : "")),
      el("td", {}, at(m.sent_at)),
      el("td", {}, m.text ? el("details", {}, el("summary", {}, t("icu_segments", { count: m.segments || 1 })),
        el("pre", { class: "sms-text" }, m.text)) : "")))
      : [el("tr", {}, el("td", { colSpan: 5, class: "dim" }, t("icu_nothing_sent")))]));
  }

  // -- actions --------------------------------------------------------------------------------

  function confirmWith(title, text, ok) {
    const dialog = $("confirm");
    $("confirm-title").textContent = title;
    $("confirm-text").textContent = text;
    $("confirm-ok").textContent = ok;
    dialog.returnValue = "";
    dialog.showModal();
    return new Promise((resolve) => dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true }));
  }

  async function setStatus(status) {
    const patient = patients.find((p) => p.patient_id === open);
    const name = patient ? patient.label : open;
    if (status !== "admitted" && !(await confirmWith(t("icu_confirm_" + status, { name }),
      t("icu_confirm_" + status + "_text"), t("icu_confirm_" + status + "_ok")))) return;
    try {
      await api("PUT", ICU + "/patients/" + encodeURIComponent(open) + "/status", { status });
      say("status", t("icu_done_" + status, { name }));
    } catch (e) { say("status", refusal(e), true); }
    await refresh();
    $("p-label").focus(); // the button pressed may be gone (a death leaves none)
  }

  async function withdraw(r) {
    const who = { phone: r.phone, relation: r.relation };
    if (!(await confirmWith(t("icu_confirm_withdraw", who), t("icu_confirm_withdraw_text"), t("icu_withdraw")))) return;
    try {
      await api("POST", ICU + "/patients/" + encodeURIComponent(open) + "/relatives/" + r.id + "/revoke");
      say("relatives", t("icu_withdrawn", who));
    } catch (e) { say("relatives", refusal(e), true); }
    await loadPatient();
  }

  // A value the limits refuse is said beside its field as it is typed; the form goes only whole.
  function check(input) {
    const name = input.name;
    const raw = input.value.trim().replace(",", ".");
    let problem = "";
    if (raw !== "" && LIMIT_OF[name] && rules) {
      const value = Number(raw);
      const limit = rules.limits[LIMIT_OF[name]];
      if (!/^\d+(\.\d+)?$/.test(raw)) problem = t("icu_not_a_number");
      else if (INTEGER.has(name) && !Number.isInteger(value)) problem = t("icu_whole_number");
      else if (value < limit.low || value > limit.high) problem = t("icu_out_of_range", { low: limit.low, high: limit.high, unit: limit.unit });
    }
    input.setAttribute("aria-invalid", problem ? "true" : "false");
    const hint = input.closest(".field").querySelector(".hint");
    if (hint && LIMIT_OF[name] && rules) {
      const limit = rules.limits[LIMIT_OF[name]];
      hint.textContent = problem || t("icu_range", { low: limit.low, high: limit.high, unit: limit.unit });
      hint.dataset.kind = problem ? "error" : "";
    }
    return !problem;
  }

  function checkAll() {
    let ok = true;
    for (const input of $("vitals").querySelectorAll("input")) ok = check(input) && ok;
    return ok && checkPressure();
  }

  // The lower pressure is below the upper: said under the lower one, as it is typed.
  function checkPressure() {
    const form = $("vitals");
    const upper = Number(form.elements.bp_systolic.value.replace(",", "."));
    const lower = form.elements.bp_diastolic;
    const value = Number(lower.value.replace(",", "."));
    if (!lower.value || !form.elements.bp_systolic.value || lower.getAttribute("aria-invalid") === "true") return true;
    if (value < upper) return true;
    lower.setAttribute("aria-invalid", "true");
    const hint = $("hint-bp_diastolic");
    hint.textContent = t("icu_bp_order");
    hint.dataset.kind = "error";
    return false;
  }

  function vitalsBody(form) {
    const body = {};
    for (const [name, raw] of new FormData(form)) {
      const value = String(raw).trim().replace(",", ".");
      if (value === "") continue;
      if (name === "conscious" || name === "ventilator") body[name] = value === "true";
      else if (name === "dynamics") body[name] = value;
      else body[name] = INTEGER.has(name) ? parseInt(value, 10) : Number(value);
    }
    return body;
  }

  async function saveVitals(ev) {
    ev.preventDefault();
    if (!checkAll()) { say("vitals", t("icu_fix_fields"), true); return; }
    const body = vitalsBody(ev.target);
    if (!Object.keys(body).length) { say("vitals", t("icu_nothing_entered"), true); return; }
    if (("bp_systolic" in body) !== ("bp_diastolic" in body)) { say("vitals", t("icu_bp_both"), true); return; }
    try {
      await api("POST", ICU + "/patients/" + encodeURIComponent(open) + "/observations", body);
      ev.target.reset();
      checkAll();
      say("vitals", t("icu_vitals_saved", { time: at(new Date().toISOString()) }));
    } catch (e) {
      const field = e.detail && e.detail.field;
      if (field) {
        const input = ev.target.querySelector(`[name="${field === "blood_pressure" ? "bp_diastolic" : field}"]`);
        if (input) { input.setAttribute("aria-invalid", "true"); input.focus(); }
      }
      say("vitals", refusal(e), true);
    }
    await refresh();
  }

  async function addRelative(ev) {
    ev.preventDefault();
    const form = ev.target;
    const body = Object.fromEntries(new FormData(form));
    try {
      const added = await api("POST", ICU + "/patients/" + encodeURIComponent(open) + "/relatives", body);
      form.reset(); // the number is not left on screen: the list shows it masked
      say("relatives", t("icu_relative_added", { phone: added.phone }));
    } catch (e) { say("relatives", refusal(e), true); }
    await refresh();
  }

  async function admit(ev) {
    ev.preventDefault();
    const form = ev.target;
    const body = Object.fromEntries(new FormData(form));
    const id = String(body.patient_id).trim();
    try {
      await api("PUT", ICU + "/patients/" + encodeURIComponent(id) + "/status",
        { status: "admitted", label: String(body.label).trim(), attending_doctor: body.attending_doctor, new: true });
      form.reset();
      say("admit", t("icu_admitted", { name: body.label }));
      await loadPatients();
      await select(id);
    } catch (e) {
      if (e.code !== "patient_exists") { say("admit", refusal(e), true); return; }
      // Never a second admission over the first: the patient the hospital has is opened.
      await loadPatients();
      await select(id);
      say("admit", t("icu_exists_opened", { id }), true);
    }
  }

  async function refresh() {
    try {
      await loadPatients();
      await Promise.all([loadAlerts(), loadPatient()]);
      $("updated").textContent = "● " + t("icu_updated", { time: at(new Date().toISOString()) });
      $("updated").dataset.state = "online";
    } catch (e) {
      $("updated").textContent = "✕ " + t("icu_not_updated");
      $("updated").dataset.state = "offline";
    }
  }

  for (const b of document.querySelectorAll(".actions button[data-status]")) b.addEventListener("click", () => setStatus(b.dataset.status));
  $("vitals").addEventListener("submit", saveVitals);
  $("vitals").addEventListener("input", (ev) => {
    if (ev.target.tagName !== "INPUT") return;
    check(ev.target);
    if (ev.target.name.startsWith("bp_")) { check(ev.target.form.elements.bp_diastolic); checkPressure(); }
  });
  $("add-relative").addEventListener("submit", addRelative);
  $("admit").addEventListener("submit", admit);

  (async function start() {
    try { await loadRules(); } catch (e) { say("status", refusal(e), true); }
    await refresh();
    if (open && $("patient").hidden && patients.length) open = null;
    setInterval(refresh, REFRESH_MS);
  })();
})();
