// territory-map.js: the territory map (Leaflet), shared by 一张图 and the dashboard: streets and communities,
// grids coloured by kind (the "20+25" overlay grids as a layer of their own), open cases as
// points coloured by light, clustered in the browser, or counted per square on the server
// when the view holds more than the API's case limit; a heat layer of hotspots per grid or
// per H3 hexagon. Everything comes from /api/v1/geo/*, in the coordinate system of the base
// tiles (config.crs), so it lands where it belongs on them.
"use strict";

(function () {
  // Grids are drawn from this zoom on (and at every zoom when the area has few of them).
  const GRID_MIN_ZOOM = 13;
  const FEW_GRIDS = 1500;
  // Territory polygons are fetched simplified for this zoom when all of them are fetched.
  const FULL_DETAIL_ZOOM = 17;
  // From this zoom on (a few blocks in view) the map asks for the points first, below it for
  // the counts per square first.
  const POINTS_ZOOM = 15;
  // The heat colours, from few to many cases.
  const HEAT = ["#fff3b0", "#ffd166", "#f8961e", "#e85d04", "#9d0208"];
  const LIGHT_RANK = { red: 3, yellow: 2, green: 1 };

  // Every text from the server goes in as text, never as HTML (Leaflet writes a string's
  // tooltip or popup as HTML): a name with markup shows its markup.
  function text(tag, className, content) {
    const element = document.createElement(tag);
    if (className) { element.className = className; }
    if (content !== undefined && content !== null) { element.textContent = String(content); }
    return element;
  }

  function query(params) {
    const search = new URLSearchParams();
    for (const [name, value] of Object.entries(params)) {
      if (Array.isArray(value)) {
        for (const item of value) { if (item !== "" && item !== null && item !== undefined) { search.append(name, item); } }
      } else if (value !== "" && value !== null && value !== undefined) {
        search.append(name, value);
      }
    }
    return search.toString();
  }

  async function getJSON(url, signal) {
    const response = await fetch(url, { credentials: "same-origin", signal: signal, headers: { Accept: "application/json" } });
    if (response.status === 401) {
      const error = new Error("signed-out");
      error.signedOut = true;
      throw error;
    }
    if (!response.ok) { throw new Error(`${response.status} ${url}`); }
    return response.json();
  }

  function bboxOf(map, pad) {
    const bounds = map.getBounds().pad(pad || 0);
    const west = Math.max(-180, bounds.getWest());
    const east = Math.min(180, bounds.getEast());
    const south = Math.max(-90, bounds.getSouth());
    const north = Math.min(90, bounds.getNorth());
    return [west, south, east, north].map((v) => v.toFixed(6)).join(",");
  }

  function contains(outer, inner) {
    if (!outer) { return false; }
    const a = outer.split(",").map(Number);
    const b = inner.split(",").map(Number);
    return a[0] <= b[0] && a[1] <= b[1] && a[2] >= b[2] && a[3] >= b[3];
  }

  function hexResolution(zoom) {
    if (zoom <= 11) { return 6; }
    if (zoom <= 12) { return 7; }
    if (zoom <= 14) { return 8; }
    if (zoom <= 16) { return 9; }
    return 10;
  }

  // Class breaks for the heat colours: the counts split into five steps (quantiles).
  function breaks(counts) {
    const sorted = counts.filter((n) => n > 0).sort((a, b) => a - b);
    if (!sorted.length) { return [1, 1, 1, 1]; }
    return [0.2, 0.4, 0.6, 0.8].map((q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]);
  }

  function heatColour(count, steps) {
    let index = 0;
    while (index < steps.length && count > steps[index]) { index += 1; }
    return HEAT[index];
  }

  function create(element, config, options) {
    const settings = Object.assign(
      { filters: () => ({}), heat: () => null, onStatus: () => {}, compact: false, onSignedOut: null },
      options || {},
    );
    const map = L.map(element, {
      preferCanvas: true,
      zoomControl: true,
      attributionControl: Boolean(config.tiles && config.attribution),
      minZoom: 3,
      maxZoom: 19,
      // Half steps let the territory fill the frame; the API is asked at the whole zoom.
      zoomSnap: 0.5,
      worldCopyJump: false,
    });
    const zoomLevel = () => Math.round(map.getZoom());
    if (map.attributionControl) { map.attributionControl.setPrefix(false); }
    if (config.tiles) {
      L.tileLayer(config.tiles, {
        subdomains: config.subdomains || "abc",
        attribution: config.attribution || "",
        maxZoom: 19,
      }).addTo(map);
    } else {
      element.classList.add("no-tiles");
    }
    // Panes, bottom to top: the heat, regions, grids (then the points, in Leaflet's marker
    // pane). Each canvas takes the clicks over its whole pane, so the only clickable one, the
    // grids', lies on top of the others.
    for (const [name, zIndex] of [["heat", 402], ["regions", 405], ["grids", 410]]) {
      map.createPane(name).style.zIndex = String(zIndex);
    }
    const renderers = {
      regions: L.canvas({ pane: "regions", padding: 0.3 }),
      grids: L.canvas({ pane: "grids", padding: 0.3 }),
      heat: L.canvas({ pane: "heat", padding: 0.3 }),
    };
    const layers = {
      streets: L.featureGroup(),
      communities: L.featureGroup(),
      comprehensive: L.featureGroup(),
      dedicated: L.featureGroup(),
      overlay: L.featureGroup(),
      heat: L.featureGroup(),
      cases: L.markerClusterGroup({
        showCoverageOnHover: false,
        maxClusterRadius: 50,
        chunkedLoading: true,
        spiderfyOnMaxZoom: true,
        iconCreateFunction: clusterIcon,
      }),
      clusters: L.featureGroup(),
    };
    const overlays = {};
    overlays["街道"] = layers.streets;
    overlays["社区/村"] = layers.communities;
    for (const kind of ["comprehensive", "dedicated", "overlay"]) {
      const label = config.gridKinds[kind].label + (kind === "overlay" ? "(20+25)" : "");
      overlays[`<span class="swatch kind-${kind}"></span>${label}`] = layers[kind];
    }
    overlays["案件"] = L.layerGroup([layers.cases, layers.clusters]);
    overlays["热力"] = layers.heat;
    for (const layer of Object.values(overlays)) { layer.addTo(map); }
    if (!settings.compact) {
      L.control.layers(null, overlays, { collapsed: false, position: "topright" }).addTo(map);
    }
    L.control.scale({ imperial: false }).addTo(map);
    const legend = L.control({ position: "bottomright" });
    legend.onAdd = () => legendElement();
    legend.addTo(map);

    const state = {
      gridsBox: null,
      gridsZoom: null,
      gridsAll: false,
      grids: new Map(),
      points: [],
      clustered: false,
      heatCounts: null,
      casesAbort: null,
      gridsAbort: null,
      heatAbort: null,
      destroyed: false,
    };

    function status(message) { settings.onStatus(message || ""); }

    function failed(error) {
      if (error && error.name === "AbortError") { return; }
      if (error && error.signedOut && settings.onSignedOut) { settings.onSignedOut(); return; }
      status("地图数据加载失败，稍后自动重试");
    }

    function legendElement() {
      const box = text("div", "map-legend");
      for (const light of ["red", "yellow", "green"]) {
        const row = text("div", "legend-row");
        row.append(text("span", `dot light-${light}`), text("span", "", config.lights[light].label));
        box.append(row);
      }
      const none = text("div", "legend-row");
      none.append(text("span", "dot light-none"), text("span", "", config.noLight.label));
      box.append(none);
      if (!settings.compact) {
        for (const kind of ["comprehensive", "dedicated", "overlay"]) {
          const row = text("div", "legend-row");
          row.append(text("span", `swatch kind-${kind}`), text("span", "", config.gridKinds[kind].label));
          box.append(row);
        }
      }
      const heat = text("div", "legend-heat");
      heat.hidden = true;
      heat.append(text("span", "", "少"));
      for (const colour of HEAT) {
        const step = text("span", "heat-step");
        step.dataset.colour = colour;
        heat.append(step);
      }
      heat.append(text("span", "", "多"));
      box.append(heat);
      return box;
    }

    // --- territory --------------------------------------------------------------------------

    // On the dashboard's dark screen the boundaries are drawn light.
    const ink = settings.compact ? { street: "#90caf9", community: "#5c87b2" } : { street: "#12355b", community: "#455a64" };

    function regionStyle(level) {
      if (level === "street") { return { color: ink.street, weight: 3, fill: false, opacity: 0.9 }; }
      if (level === "community") { return { color: ink.community, weight: 1.5, dashArray: "6 4", fill: false, opacity: 0.8 }; }
      return { color: ink.street, weight: 1, fill: false, opacity: 0.4 };
    }

    function gridStyle(kind) {
      const colour = config.gridKinds[kind] ? config.gridKinds[kind].colour : "#1565c0";
      if (kind === "overlay") { return { color: colour, weight: 1.5, dashArray: "4 3", fillColor: colour, fillOpacity: 0.05 }; }
      if (kind === "dedicated") { return { color: colour, weight: 2, fillColor: colour, fillOpacity: 0.15 }; }
      return { color: colour, weight: 1, fillColor: colour, fillOpacity: 0.06 };
    }

    async function loadRegions() {
      try {
        const data = await getJSON(`/api/v1/geo/regions?${query({ zoom: FULL_DETAIL_ZOOM - 2, crs: config.crs })}`);
        layers.streets.clearLayers();
        layers.communities.clearLayers();
        for (const feature of data.features) {
          const level = feature.properties.level;
          const target = level === "community" ? layers.communities : level === "street" ? layers.streets : null;
          if (!target) { continue; }
          const shape = L.geoJSON(feature, { style: regionStyle(level), renderer: renderers.regions, interactive: false });
          target.addLayer(shape);
        }
      } catch (error) { failed(error); }
    }

    function drawsGrids() {
      return config.gridCount <= FEW_GRIDS || zoomLevel() >= GRID_MIN_ZOOM;
    }

    async function loadGrids(force) {
      const few = config.gridCount <= FEW_GRIDS;
      if (!drawsGrids()) {
        for (const kind of ["comprehensive", "dedicated", "overlay"]) { layers[kind].clearLayers(); }
        state.grids.clear();
        state.gridsBox = null;
        return;
      }
      const zoom = few ? FULL_DETAIL_ZOOM : zoomLevel();
      const view = bboxOf(map, 0);
      if (!force && (few ? state.gridsAll : state.gridsZoom === zoom && contains(state.gridsBox, view))) { return; }
      const box = few ? null : bboxOf(map, 0.5);
      if (state.gridsAbort) { state.gridsAbort.abort(); }
      state.gridsAbort = new AbortController();
      try {
        const data = await getJSON(
          `/api/v1/geo/grids?${query({ zoom: zoom, crs: config.crs, bbox: box })}`,
          state.gridsAbort.signal,
        );
        for (const kind of ["comprehensive", "dedicated", "overlay"]) { layers[kind].clearLayers(); }
        state.grids.clear();
        for (const feature of data.features) {
          const kind = feature.properties.kind;
          const shape = L.geoJSON(feature, { style: gridStyle(kind), renderer: renderers.grids });
          shape.feature = feature;
          shape.on("click", (event) => { L.DomEvent.stopPropagation(event); openGrid(feature, event.latlng); });
          shape.bindTooltip(text("span", "", `${feature.properties.name}(${config.gridKinds[kind].label})`), { sticky: true });
          (layers[kind] || layers.comprehensive).addLayer(shape);
          state.grids.set(feature.properties.code, shape);
        }
        state.gridsAll = few;
        state.gridsZoom = zoom;
        state.gridsBox = box;
        paintGridHeat();
      } catch (error) { failed(error); }
    }

    // --- a grid's popup -----------------------------------------------------------------------

    function lightBadge(light) {
      const name = light || "none";
      const label = light ? config.lights[light].label : config.noLight.label;
      return text("span", `light-badge light-${name}`, label);
    }

    async function openGrid(feature, latlng) {
      const box = text("div", "grid-popup");
      box.append(text("h3", "", feature.properties.name), text("p", "muted", "正在加载…"));
      const popup = L.popup({ maxWidth: 360, minWidth: 280 }).setLatLng(latlng).setContent(box).openOn(map);
      try {
        const data = await getJSON(`/api/v1/geo/grids/${encodeURIComponent(feature.properties.code)}/summary`);
        popup.setContent(gridPopup(data));
      } catch (error) {
        box.lastChild.textContent = "网格信息加载失败";
        failed(error);
      }
    }

    function gridPopup(data) {
      const box = text("div", "grid-popup");
      box.dataset.grid = data.code;
      box.append(text("h3", "", data.name));
      box.append(text("p", "muted small", `${data.code} · ${data.kind_label} · ${data.region_name}`));
      const people = text("dl", "popup-facts");
      const inspectors = data.inspectors.length
        ? data.inspectors.map((p) => `${p.full_name}${p.phone ? " " + p.phone : ""}`).join("；")
        : "未配置";
      people.append(text("dt", "", "网格员"), text("dd", "grid-inspectors", inspectors));
      if (data.leader) {
        people.append(text("dt", "", "网格长"), text("dd", "", `${data.leader.full_name}${data.leader.phone ? " " + data.leader.phone : ""}`));
      }
      people.append(text("dt", "", "在办案件"), text("dd", "grid-open", `${data.open_total} 件`));
      box.append(people);
      const lights = text("p", "popup-lights");
      for (const light of ["red", "yellow", "green"]) {
        const badge = lightBadge(light);
        badge.textContent = `${config.lights[light].label.slice(0, 2)} ${data.open_by_light[light] || 0}`;
        lights.append(badge);
      }
      box.append(lights);
      if (data.open_cases.length) {
        const list = text("ul", "popup-cases");
        for (const item of data.open_cases) {
          const row = text("li");
          const link = text("a", "", item.number);
          link.href = `/cases/${encodeURIComponent(item.number)}`;
          link.target = "_blank";
          link.rel = "noopener";
          row.append(lightBadge(item.light), " ", link, text("span", "small", ` ${item.title}`));
          list.append(row);
        }
        box.append(list);
      }
      const month = text("table", "popup-month");
      const caption = text("caption", "", `${data.month_label}(本网格)`);
      month.append(caption);
      const body = text("tbody");
      for (const [key, cell] of Object.entries(data.month)) {
        const row = text("tr");
        row.append(text("th", "", data.month_labels[key] || key), text("td", "", cell.display || cell.value));
        body.append(row);
      }
      month.append(body);
      box.append(month);
      return box;
    }

    // --- cases ----------------------------------------------------------------------------------

    function clusterIcon(cluster) {
      let worst = 0;
      for (const marker of cluster.getAllChildMarkers()) {
        worst = Math.max(worst, LIGHT_RANK[marker.options.light] || 0);
      }
      const light = Object.keys(LIGHT_RANK).find((key) => LIGHT_RANK[key] === worst) || "none";
      const count = cluster.getChildCount();
      const size = count < 10 ? "small" : count < 100 ? "medium" : "large";
      return L.divIcon({
        html: `<span>${count}</span>`,
        className: `case-cluster light-${light} size-${size}`,
        iconSize: L.point(36, 36),
      });
    }

    function pointMarker(feature) {
      const [x, y] = feature.geometry.coordinates;
      const p = feature.properties;
      const light = p.light || "none";
      const marker = L.marker([y, x], {
        icon: L.divIcon({ className: `case-point light-${light}`, iconSize: L.point(14, 14) }),
        light: p.light,
        number: p.number,
        keyboard: false,
      });
      const state = config.states[p.state] || p.state;
      const lightLabel = p.light ? config.lights[p.light].label : config.noLight.label;
      marker.bindTooltip(text("span", "", `${p.number} ${p.category_name} · ${state} · ${lightLabel}`), { direction: "top" });
      marker.on("click", () => { window.open(`/cases/${encodeURIComponent(p.number)}`, "_blank", "noopener"); });
      return marker;
    }

    function clusterMarker(feature) {
      const [x, y] = feature.geometry.coordinates;
      const p = feature.properties;
      const light = p.red ? "red" : p.yellow ? "yellow" : p.green ? "green" : "none";
      const size = p.count < 10 ? "small" : p.count < 100 ? "medium" : p.count < 1000 ? "large" : "huge";
      const marker = L.marker([y, x], {
        icon: L.divIcon({
          html: `<span>${p.count >= 10000 ? Math.round(p.count / 1000) + "k" : p.count}</span>`,
          className: `case-cluster server light-${light} size-${size}`,
          iconSize: L.point(40, 40),
        }),
        light: light,
        count: p.count,
      });
      marker.bindTooltip(text("span", "", `共 ${p.count} 件：红灯 ${p.red}，黄灯 ${p.yellow}，绿灯 ${p.green}`), { direction: "top" });
      marker.on("click", () => map.setView([y, x], Math.min(map.getZoom() + 2, map.getMaxZoom())));
      return marker;
    }

    function caseParams() {
      const filters = settings.filters() || {};
      const params = Object.assign({ crs: config.crs }, filters);
      if (!params.state || (Array.isArray(params.state) && !params.state.length)) { params.state = config.openStates; }
      return params;
    }

    async function loadCases() {
      if (state.casesAbort) { state.casesAbort.abort(); }
      state.casesAbort = new AbortController();
      const signal = state.casesAbort.signal;
      const params = caseParams();
      params.bbox = bboxOf(map, 0.2);
      const clustersOf = () => getJSON(
        `/api/v1/geo/cases/clusters?${query(Object.assign({ zoom: zoomLevel() }, params))}`,
        signal,
      );
      try {
        // Below street level the counts per square come first: a wide view of a large
        // territory holds more points than a map can take, and the counts say so cheaply.
        let clusters = null;
        if (zoomLevel() < POINTS_ZOOM) {
          clusters = await clustersOf();
          const total = clusters.features.reduce((sum, f) => sum + f.properties.count, 0);
          if (total <= config.caseLimit) { clusters = null; }
        }
        const points = clusters ? null : await getJSON(
          `/api/v1/geo/cases?${query(Object.assign({ limit: config.caseLimit }, params))}`,
          signal,
        );
        if (points && points.truncated) { clusters = await clustersOf(); }
        if (clusters) {
          layers.cases.clearLayers();
          layers.clusters.clearLayers();
          state.points = [];
          state.clustered = true;
          let total = 0;
          for (const feature of clusters.features) {
            layers.clusters.addLayer(clusterMarker(feature));
            total += feature.properties.count;
          }
          status(`当前视野内 ${total} 件，已按区域汇总显示，放大查看单个案件`);
        } else {
          layers.clusters.clearLayers();
          layers.cases.clearLayers();
          state.clustered = false;
          state.points = points.features;
          layers.cases.addLayers(points.features.map(pointMarker));
          status(`当前视野内 ${points.features.length} 件`);
        }
        element.dataset.casesLoaded = String(Date.now());
      } catch (error) { failed(error); }
    }

    // --- heat -------------------------------------------------------------------------------------

    function showHeatLegend(show) {
      const legendHeat = element.querySelector(".legend-heat");
      if (!legendHeat) { return; }
      legendHeat.hidden = !show;
      for (const step of legendHeat.querySelectorAll(".heat-step")) {
        step.style.backgroundColor = step.dataset.colour;
      }
    }

    function paintGridHeat() {
      for (const [code, shape] of state.grids) {
        const kind = shape.feature.properties.kind;
        const base = gridStyle(kind);
        const count = state.heatCounts ? state.heatCounts.counts.get(code) || 0 : null;
        if (count === null) {
          shape.setStyle(base);
        } else {
          shape.setStyle(Object.assign({}, base, {
            fillColor: count ? heatColour(count, state.heatCounts.steps) : "#ffffff",
            fillOpacity: count ? 0.65 : 0.05,
          }));
        }
      }
    }

    async function loadHeat() {
      const heat = settings.heat();
      layers.heat.clearLayers();
      if (state.heatAbort) { state.heatAbort.abort(); }
      if (!heat || !heat.mode) {
        state.heatCounts = null;
        paintGridHeat();
        showHeatLegend(false);
        return;
      }
      state.heatAbort = new AbortController();
      const params = { created_from: heat.from, created_to: heat.to, category_code: heat.category };
      try {
        if (heat.mode === "grids") {
          const data = await getJSON(`/api/v1/geo/hotspots/grids?${query(params)}`, state.heatAbort.signal);
          const counts = new Map(data.grids.map((row) => [row.code, row.count]));
          state.heatCounts = { counts: counts, steps: breaks([...counts.values()]) };
          paintGridHeat();
          if (!drawsGrids()) { status("放大到街道一级查看网格热力"); }
        } else {
          state.heatCounts = null;
          paintGridHeat();
          const resolution = hexResolution(zoomLevel());
          const data = await getJSON(
            `/api/v1/geo/hotspots/hexagons?${query(Object.assign({ resolution: resolution, crs: config.crs }, params))}`,
            state.heatAbort.signal,
          );
          const steps = breaks(data.features.map((f) => f.properties.count));
          state.hexResolution = resolution;
          for (const feature of data.features) {
            const shape = L.geoJSON(feature, {
              renderer: renderers.heat,
              interactive: false,
              style: { color: "#ffffff", weight: 0.5, fillColor: heatColour(feature.properties.count, steps), fillOpacity: 0.6 },
            });
            shape.feature = feature;
            layers.heat.addLayer(shape);
          }
        }
        showHeatLegend(true);
      } catch (error) { failed(error); }
    }

    // --- wiring -------------------------------------------------------------------------------------

    let moveTimer = null;
    map.on("moveend", () => {
      clearTimeout(moveTimer);
      moveTimer = setTimeout(() => {
        loadGrids(false);
        loadCases();
        const heat = settings.heat();
        if (heat && heat.mode === "hexagons" && state.hexResolution !== hexResolution(zoomLevel())) { loadHeat(); }
      }, 200);
    });

    if (config.extent) {
      const [west, south, east, north] = config.extent;
      map.fitBounds([[south, west], [north, east]], { padding: [12, 12] });
    } else {
      map.setView([35.0, 105.0], 4);
    }
    loadRegions();

    // Whether a live event about a case (WGS-84 lng/lat) may change what the view shows: it
    // does unless its point lies clear of the view (a GCJ-02 base map shifts points by a few
    // hundred metres, hence the margin).
    function affects(event) {
      const data = event && event.data;
      if (!data || typeof data.lng !== "number" || typeof data.lat !== "number") { return true; }
      const view = map.getBounds().pad(0.2);
      return data.lng >= view.getWest() - 0.01 && data.lng <= view.getEast() + 0.01
        && data.lat >= view.getSouth() - 0.01 && data.lat <= view.getNorth() + 0.01;
    }

    return {
      map: map,
      layers: layers,
      state: state,
      affects: affects,
      refreshCases: loadCases,
      refreshHeat: loadHeat,
      refreshGrids: () => loadGrids(true),
      points: () => state.points,
    };
  }

  window.CivicMap = { create: create, query: query, getJSON: getJSON };
})();
