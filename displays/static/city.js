/* The city's situation centre: every clinic a tile, coloured by its longest current wait and by
 * how soon a therapist slot is free (green: now, yellow: 3-4 days, red: 5+). Polls the JSON API. */
(function () {
  "use strict";
  const { cfg, t, api, el, levelBadge, tick } = window.CQ;
  const EVERY_MS = 30000;
  const DAYS = 7;

  function isoDay(offset) {
    return new Date(Date.now() + offset * 86400000).toISOString().slice(0, 10);
  }

  async function firstFreeDay(clinic) {
    const therapy = clinic.services.find((s) => s.id === "therapy") || clinic.services[0];
    for (let d = 0; d < DAYS; d += 1) {
      const out = await api("GET", "/slots?free=true&date=" + isoDay(d), undefined, clinic.id);
      if (out.slots.some((s) => !therapy || s.service === therapy.id)) return d;
    }
    return null;
  }

  async function update(clinic, tile) {
    try {
      const board = await api("GET", "/board", undefined, clinic.id);
      const worst = ["red", "yellow", "green"].find((l) => board.queues.some((q) => q.level === l)) || "green";
      const longest = Math.max(0, ...board.queues.map((q) => q.longest_wait_minutes));
      const waiting = board.queues.reduce((n, q) => n + q.waiting, 0);
      tile.dataset.level = worst;
      tile.querySelector(".wait").replaceChildren(levelBadge(worst), " ",
        t("city_waiting", { count: waiting }), " · ", t("city_longest", { minutes: longest }));
      const days = await firstFreeDay(clinic);
      const slotLevel = days === null || days >= 5 ? "red" : days >= 3 ? "yellow" : "green";
      tile.dataset.slots = slotLevel;
      tile.querySelector(".slots").replaceChildren(levelBadge(slotLevel, "city_level_"), " ",
        days === null ? t("city_slot_none") : days === 0 ? t("city_slot_now") : t("city_slot_days", { days }));
    } catch (e) {
      tile.querySelector(".wait").textContent = t("error", { message: e.message });
    }
  }

  function all() {
    for (const clinic of cfg.clinics) {
      const tile = document.querySelector('[data-clinic="' + clinic.id + '"]');
      if (tile) update(clinic, tile);
    }
  }

  all();
  setInterval(all, EVERY_MS);
  tick("clock");
})();
