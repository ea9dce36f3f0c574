// 一张图: the map (territory-map.js) with the case list's filters and the heat controls beside it;
// live updates (live-watch.js) fetch the case points of the view again.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const element = document.getElementById("map");
  if (!element || !window.L || !window.CivicMap) { return; }
  const config = JSON.parse(element.dataset.config);
  const form = document.getElementById("map-filters");
  const statusLine = document.getElementById("map-status");

  function day(value, after) {
    // A date field as the start of that day (or of the next, for an end date) in the centre's
    // time zone, whatever the browser's.
    if (!value) { return ""; }
    let date = value;
    if (after) {
      const next = new Date(`${value}T00:00:00Z`);
      next.setUTCDate(next.getUTCDate() + 1);
      date = next.toISOString().slice(0, 10);
    }
    return `${date}T00:00:00${config.utcOffset}`;
  }

  function filters() {
    const data = new FormData(form);
    return {
      state: data.get("state") ? [data.get("state")] : [],
      light: data.get("light"),
      category_code: data.get("category_code"),
      channel: data.get("channel") ? [data.get("channel")] : [],
      region_code: data.get("region_code"),
      grid_code: String(data.get("grid_code") || "").trim(),
      created_from: day(data.get("date_from"), false),
      created_to: day(data.get("date_to"), true),
      q: String(data.get("q") || "").trim(),
    };
  }

  function heat() {
    const data = new FormData(form);
    return {
      mode: data.get("heat"),
      from: day(data.get("heat_from"), false),
      to: day(data.get("heat_to"), true),
      category: data.get("heat_category"),
    };
  }

  // The heat period starts as this month so far (the centre's today).
  form.elements.heat_from.value = `${config.today.slice(0, 8)}01`;
  form.elements.heat_to.value = config.today;

  const controller = window.CivicMap.create(element, config, {
    filters: filters,
    heat: heat,
    onStatus: (message) => { statusLine.textContent = message; },
    onSignedOut: () => { window.location.assign(`/login?next=${encodeURIComponent("/map")}&reason=expired`); },
  });
  element.civicMap = controller;

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    controller.refreshCases();
  });
  form.addEventListener("reset", () => {
    setTimeout(() => { controller.refreshCases(); controller.refreshHeat(); }, 0);
  });
  form.addEventListener("change", (event) => {
    const name = event.target.name || "";
    if (name.startsWith("heat")) { controller.refreshHeat(); } else if (name !== "q" && name !== "grid_code") {
      controller.refreshCases();
    }
  });

  window.CivicLive.watch(config.liveUrl, (reason, events) => {
    if (reason !== "event" || events.some(controller.affects)) { controller.refreshCases(); }
  }, { fallbackSeconds: config.refreshSeconds });
});
