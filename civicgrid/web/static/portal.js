// The citizens' portal: the place picker and the public map (Leaflet, served from this site),
// "use my location", and the count of chosen photos. Loaded as a file (the CSP allows no
// inline script); the forms post without it, but a place is chosen with it.
"use strict";

(() => {
  // Case data is shown as text, never as HTML.
  const text = (tag, content, className) => {
    const node = document.createElement(tag);
    node.textContent = content;
    if (className) { node.className = className; }
    return node;
  };


  // A map on ``element``: the configured tiles, or a plain background with the grids drawn.
  const baseMap = (element, data) => {
    const map = L.map(element, { attributionControl: Boolean(element.dataset.tiles), zoomSnap: 0.25 });
    if (element.dataset.tiles) {
      map.attributionControl.setPrefix(false);
      L.tileLayer(element.dataset.tiles, {
        maxZoom: 19,
        subdomains: element.dataset.subdomains || "abc",
        attribution: element.dataset.attribution || "",
      }).addTo(map);
    }
    const grids = L.geoJSON(data.grids, {
      style: { color: "#0b5cad", weight: 1, opacity: 0.7, fillColor: "#0b5cad", fillOpacity: 0.04 },
      interactive: false,
    }).addTo(map);
    const bounds = grids.getBounds();
    if (bounds.isValid()) { map.fitBounds(bounds, { padding: [8, 8] }); } else { map.setView([30.27, 120.15], 12); }
    return map;
  };

  const load = (element) => fetch(element.dataset.mapData, { credentials: "same-origin" })
    .then((reply) => { if (!reply.ok) { throw new Error(String(reply.status)); } return reply.json(); });

  // The report form: tap the map (or use the phone's position) to place the problem.
  const picker = (form) => {
    const element = form.querySelector("[data-map-picker]");
    const lng = form.elements.lng, lat = form.elements.lat, crs = form.elements.crs;
    const status = document.getElementById("locate-status");
    let map = null, marker = null;
    const choose = (point, system) => {
      lng.value = point.lng.toFixed(6);
      lat.value = point.lat.toFixed(6);
      crs.value = system;
      lat.dispatchEvent(new Event("change", { bubbles: true }));
    };
    const show = (point, zoom) => {
      if (!map) { return; }
      if (marker) { marker.setLatLng(point); } else {
        marker = L.circleMarker(point, { radius: 10, color: "#c62828", weight: 3, fillOpacity: 0.5 }).addTo(map);
      }
      if (zoom) { map.setView(point, zoom); }
    };
    if (typeof L === "undefined") {
      element.textContent = "地图组件未安装，请使用当前位置。";
    } else {
      load(element).then((data) => {
        map = baseMap(element, data);
        if (lng.value && lat.value) { show({ lat: Number(lat.value), lng: Number(lng.value) }); }
        map.on("click", (event) => { show(event.latlng); choose(event.latlng, crs.dataset.mapCrs); });
      }).catch(() => { element.textContent = "地图暂时无法加载，请使用当前位置。"; });
    }
    const locate = form.querySelector("[data-portal-locate]");
    if (locate && "geolocation" in navigator) {
      locate.hidden = false;
      locate.addEventListener("click", () => {
        status.textContent = "正在获取位置…";
        navigator.geolocation.getCurrentPosition((position) => {
          const point = { lat: position.coords.latitude, lng: position.coords.longitude };
          choose(point, "wgs84");  // the phone gives GPS (WGS-84) coordinates
          show(point, 16);
          status.textContent = "";
        }, () => { status.textContent = "无法获取位置，请在地图上点选"; },
        { enableHighAccuracy: true, timeout: 15000 });
      });
    }
  };

  // The public map: each cell of open problems as a circle, its list in a popup.
  const publicMap = (element) => {
    const summary = document.getElementById("map-summary");
    load(element).then((data) => {
      const map = baseMap(element, data);
      let total = 0;
      for (const cell of data.cells) {
        total += cell.count;
        const popup = document.createElement("div");
        popup.className = "map-popup";
        popup.append(text("p", `此处约 ${data.cell_m} 米范围内：${cell.count} 个问题`));
        const list = document.createElement("ul");
        for (const item of cell.cases) { list.append(text("li", `${item.category} · ${item.state} · ${item.date}`)); }
        popup.append(list);
        L.circleMarker([cell.lat, cell.lng], {
          radius: Math.min(8 + 2 * Math.sqrt(cell.count), 22), color: "#c62828", weight: 2, fillOpacity: 0.45,
        }).bindPopup(popup).addTo(map);
      }
      summary.textContent = total
        ? `共 ${total} 个正在办理的问题${data.truncated ? "（只显示最新的一部分）" : ""}，点击圆点查看。`
        : "目前没有正在办理的问题。";
    }).catch(() => { summary.textContent = "地图暂时无法加载，请稍后再试。"; });
  };

  document.addEventListener("DOMContentLoaded", () => {
    for (const element of document.querySelectorAll("[data-map-picker]")) { picker(element.closest("form")); }
    for (const element of document.querySelectorAll("[data-public-map]")) {
      if (typeof L !== "undefined") { publicMap(element); } else { element.textContent = "地图组件未安装。"; }
    }
    // The photos chosen: how many, and a warning beyond the limit.
    for (const input of document.querySelectorAll("input[type=file][data-max-files]")) {
      const note = document.getElementById("photo-note");
      input.addEventListener("change", () => {
        const most = Number(input.dataset.maxFiles);
        const count = input.files.length;
        note.textContent = count > most ? `最多 ${most} 张，请重新选择` : count ? `已选择 ${count} 张照片` : "";
      });
    }
  });
})();
