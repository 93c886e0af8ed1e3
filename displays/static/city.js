/* The city's situation centre: every clinic a tile, coloured as the city's legend says by how
 * soon a therapist can be seen (green: today; yellow: 1-4 days; red: 5 or more, or nothing
 * free), with its queues' state beside it. Tiles are kept worst first as the data changes.
 * Polls the JSON API: per clinic, the board and the first free therapist slot. */
(function () {
  "use strict";
  const { cfg, params, t, api, levelBadge, tick } = window.CQ;
  // ?every=<seconds> for a wall that wants it faster (tests do); never below 2 s.
  const EVERY_MS = Math.max(2, Number(params.get("every")) || 30) * 1000;
  const RANK = { red: 0, yellow: 1, green: 2 };

  // 1-2 days is not "free now", and better than the 3-4 days the situation centre calls yellow:
  // it is yellow too, and the tile says the days in words.
  function slotLevel(days) {
    return days === null ? "red" : days === 0 ? "green" : days < 5 ? "yellow" : "red";
  }

  function queueLevel(board) {
    if (board.queues.some((q) => q.unstaffed)) return "red";
    const levels = board.queues.map((q) => (q.level in RANK ? q.level : "red"));
    return ["red", "yellow", "green"].find((l) => levels.includes(l)) || "green";
  }

  function showQueues(tile, board) {
    const level = queueLevel(board);
    const longest = Math.max(0, ...board.queues.map((q) => q.longest_wait_minutes));
    const waiting = board.queues.reduce((n, q) => n + q.waiting, 0);
    tile.dataset.level = level;
    tile.dataset.longest = String(longest);
    tile.querySelector(".wait").dataset.level = level;
    const badge = board.queues.some((q) => q.unstaffed) ? levelBadge("red", null, t("level_unstaffed")) : levelBadge(level);
    tile.querySelector(".wait").replaceChildren(badge, " ",
      t("city_waiting", { count: waiting }), " · ", t("city_longest", { minutes: longest }));
    const unstaffed = board.queues.filter((q) => q.unstaffed)
      .map((q) => t("city_unstaffed_queue", { service: q.name, count: q.waiting }));
    const note = tile.querySelector(".unstaffed");
    note.hidden = unstaffed.length === 0;
    note.textContent = unstaffed.length ? t("city_unstaffed", { services: unstaffed.join(", ") }) : "";
  }

  function showSlots(tile, found, ahead) {
    const level = slotLevel(found.days);
    tile.dataset.slots = level;
    tile.dataset.days = found.days === null ? "" : String(found.days);
    const text = found.days === null ? t("city_slot_none", { count: ahead })
      : found.days === 0 ? t("city_slot_now") : t("city_slot_days", { count: found.days });
    tile.querySelector(".slots").replaceChildren(levelBadge(level, "city_level_"), " ", text);
    tile.querySelector(".slots").dataset.level = level;
  }

  // The tile's outline is the worse of its two lines, so the worst clinics stand out on a wall;
  // each line keeps its own colour and words.
  function showWorst(tile) {
    const worst = Math.min(RANK[tile.dataset.slots] ?? 2, RANK[tile.dataset.level] ?? 2);
    tile.dataset.worst = Object.keys(RANK).find((l) => RANK[l] === worst);
  }

  // Worst first: the worse of the two colours, then the later first slot, then the longer wait.
  function sortKey(tile) {
    const known = tile.dataset.slots && tile.dataset.level;
    const worst = Math.min(RANK[tile.dataset.slots] ?? 2, RANK[tile.dataset.level] ?? 2);
    const days = tile.dataset.days === "" ? Infinity : Number(tile.dataset.days || 0);
    return [known ? 0 : 1, worst, -days, -Number(tile.dataset.longest || 0)];
  }

  function compare(a, b) {
    const ka = sortKey(a), kb = sortKey(b);
    for (let i = 0; i < ka.length; i += 1) if (ka[i] !== kb[i]) return ka[i] < kb[i] ? -1 : 1;
    return a.dataset.name.localeCompare(b.dataset.name, cfg.messages.lang);
  }

  function reorder() {
    const list = document.getElementById("tiles");
    const tiles = Array.from(list.children);
    const sorted = tiles.slice().sort(compare);
    // Moved only when the order changes: a wall that is not changing does not flicker.
    if (sorted.some((tile, i) => tile !== tiles[i])) list.append(...sorted);
  }

  async function update(clinic, tile) {
    const therapy = clinic.services.find((s) => s.id === "therapy") || clinic.services[0];
    try {
      const [board, found] = await Promise.all([
        api("GET", "/board", undefined, clinic.id),
        api("GET", "/slots/first-free?service=" + encodeURIComponent(therapy.id), undefined, clinic.id),
      ]);
      showQueues(tile, board);
      showSlots(tile, found, clinic.booking_days);
      showWorst(tile);
      showPrinters(clinic, tile);
      tile.querySelector(".error").hidden = true;
    } catch (e) {
      const note = tile.querySelector(".error");
      note.hidden = false;
      note.textContent = t("error", { message: e.message });
    }
    soon();
  }

  // -- printers (issue 15) --
  // The clinic's kiosk printers on its tile, fetched with the tile's own update (no loop of its
  // own): how many are fine, and by name the ones that need someone.
  async function showPrinters(clinic, tile) {
    let fleet;
    try {
      fleet = (await api("GET", "/printers", undefined, clinic.id)).printers;
    } catch (_) {
      return; // the queues and slots above still say what matters most
    }
    let line = tile.querySelector(".printers");
    if (!line) {
      line = document.createElement("div");
      line.className = "printers";
      tile.append(line);
    }
    line.hidden = fleet.length === 0;
    const bad = fleet.filter((p) => p.level);
    const worst = bad.some((p) => p.level === "red") ? "red" : bad.length ? "yellow" : "green";
    line.dataset.level = worst;
    line.dataset.count = String(fleet.length);
    line.dataset.bad = String(bad.length);
    const named = bad.map((p) => p.kiosk + " " + t("printer_" + p.state) +
      (p.silent_minutes == null ? "" : " · " + t("fleet_silent", { minutes: p.silent_minutes })));
    line.replaceChildren(levelBadge(worst, null, bad.length
      ? t("city_printers_bad", { bad: named.join(", ") })
      : t("city_printers", { ok: fleet.length, total: fleet.length })));
  }

  // One reorder after a burst of tile updates, not one per tile (a city has hundreds).
  let queued = null;
  function soon() {
    if (queued === null) queued = setTimeout(() => { queued = null; reorder(); }, 100);
  }

  async function all() {
    const jobs = cfg.clinics.map((clinic) => {
      const tile = document.querySelector('[data-clinic="' + clinic.id + '"]');
      return tile ? update(clinic, tile) : null;
    });
    await Promise.all(jobs);
  }

  async function loop() {
    try { await all(); } finally { setTimeout(loop, EVERY_MS); }
  }

  loop();
  tick("clock");
})();
