// The small maps (Leaflet, served from the pinned npm package): the case file's point and
// grid, and the intake form's map to pick a point on. Loaded as a file (the CSP allows no
// inline script). Everything drawn arrives already written in the tiles' coordinate system
// (the server shifts it for GCJ-02 tiles), so nothing is converted here.
"use strict";

(() => {
  const STYLES = {
    grid: { color: "#0b5cad", weight: 2, fillOpacity: 0.08 },
    chosen: { color: "#c62828", weight: 3, fillOpacity: 0.12, interactive: false },
    territory: { color: "#52606d", weight: 1, fillOpacity: 0.04, interactive: false },
  };

  function makeMap(element) {
    const config = JSON.parse(element.dataset.mapConfig);
    const map = L.map(element, { scrollWheelZoom: false, zoomControl: false });
    L.control.zoom({ zoomInTitle: "放大", zoomOutTitle: "缩小" }).addTo(map);
    map.attributionControl.setPrefix(false);
    if (config.tiles) {
      L.tileLayer(config.tiles, {
        subdomains: config.subdomains || "abc",
        attribution: config.attribution || "",
        maxZoom: 19,
      }).addTo(map);
    } else {
      element.classList.add("map-plain");
    }
    return { map, config };
  }

  function spot(map, latlng) {
    return L.circleMarker(latlng, {
      radius: 8, color: "#ffffff", weight: 2, fillColor: "#c62828", fillOpacity: 1, interactive: false,
    }).addTo(map);
  }

  // The case file: the case's point in its grid. (Leaflet draws a layer only on a map whose
  // view is set, so the view comes first.)
  for (const element of document.querySelectorAll("[data-map-case]")) {
    const { map } = makeMap(element);
    const drawn = JSON.parse(element.dataset.mapCase);
    const grid = drawn.grid ? L.geoJSON(drawn.grid, { style: STYLES.grid }) : null;
    const bounds = grid ? grid.getBounds() : L.latLngBounds([drawn.point, drawn.point]);
    if (drawn.point) { bounds.extend(L.latLng(drawn.point)); }
    map.fitBounds(bounds, { padding: [12, 12], maxZoom: 17 });
    if (grid) { grid.addTo(map).bindTooltip(drawn.grid.properties.name); }
    if (drawn.point) { spot(map, drawn.point); }
    element.dataset.ready = "";
  }

  // The intake form: the grids of the user's area; a click asks the server where the point
  // lies (its grid and community, in WGS-84 for the form), and the answer is drawn.
  const picker = document.querySelector("[data-map-pick]");
  if (!picker) { return; }
  const { map, config } = makeMap(picker);
  map.setView([35, 105], 4);
  const help = picker.parentElement.querySelector(".map-help");
  if (help) { help.hidden = false; }
  let marker = null;
  let chosen = null;

  fetch(picker.dataset.mapGrids, { headers: { Accept: "application/json" } })
    .then((reply) => (reply.ok ? reply.json() : null))
    .then((layer) => {
      if (!layer || layer.features.length === 0) { return; }
      const grids = L.geoJSON(layer, { style: STYLES.territory }).addTo(map);
      if (!marker) { map.fitBounds(grids.getBounds()); }
      picker.dataset.ready = "";
    });

  map.on("click", (event) => {
    const at = event.latlng.wrap();
    const query = new URLSearchParams({
      lng: at.lng.toFixed(7), lat: at.lat.toFixed(7), crs: config.crs, picked: "1",
    });
    htmx.ajax("GET", `${picker.dataset.mapPick}?${query}`, { target: "#place", swap: "innerHTML" });
  });

  document.body.addEventListener("htmx:afterSwap", (event) => {
    if (event.detail.target.id !== "place") { return; }
    if (marker) { marker.remove(); marker = null; }
    if (chosen) { chosen.remove(); chosen = null; }
    const found = document.getElementById("place-found");
    if (!found) { return; }
    const drawn = JSON.parse(found.dataset.drawn);
    if (drawn.grid) { chosen = L.geoJSON(drawn.grid, { style: STYLES.chosen }).addTo(map); }
    marker = spot(map, drawn.point);
    if (!map.getBounds().contains(drawn.point)) {
      map.setView(drawn.point, Math.max(map.getZoom(), 16));
    }
  });
})();
