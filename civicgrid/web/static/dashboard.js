// 指挥大屏: every figure from GET /api/v1/dashboard (one request), drawn with ECharts around
// the map (territory-map.js); fetched again after live events (live-watch.js) or every 30 seconds.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const root = document.getElementById("screen");
  if (!root) { return; }
  const config = JSON.parse(root.dataset.config);
  const statusLine = document.getElementById("screen-status");
  const TEXT = "#cfe3ff";
  const MUTED = "#7fa2c8";
  const LINE = "rgba(127,162,200,.25)";
  const ACCENT = ["#4fc3f7", "#ffb74d"];

  function byId(id) { return document.getElementById(id); }

  function text(tag, className, content) {
    const element = document.createElement(tag);
    if (className) { element.className = className; }
    if (content !== undefined && content !== null) { element.textContent = String(content); }
    return element;
  }

  function status(message) { statusLine.textContent = message || ""; }

  function signedOut() {
    window.location.assign(`/login?next=${encodeURIComponent(window.location.pathname + window.location.search)}&reason=expired`);
  }

  // --- the clock, full screen, the scope switch ---------------------------------------------

  const clock = byId("screen-clock");
  function tick() {
    clock.textContent = new Date().toLocaleString("zh-CN", { hour12: false, timeZone: undefined });
  }
  tick();
  setInterval(tick, 1000);
  const full = byId("screen-full");
  if (full) {
    full.addEventListener("click", () => {
      if (document.fullscreenElement) { document.exitFullscreen(); } else { document.documentElement.requestFullscreen(); }
    });
  }
  for (const select of document.querySelectorAll("select[data-autosubmit]")) {
    select.addEventListener("change", () => select.form.submit());
  }

  // --- charts ----------------------------------------------------------------------------------

  const charts = {};
  // The charts grow in at the first drawing only: a wall display redrawn every half minute
  // should not flicker.
  let animate = true;
  function chart(id) {
    if (!window.echarts) { return null; }
    if (!charts[id]) {
      charts[id] = window.echarts.init(byId(id), null, { renderer: "canvas" });
    }
    return charts[id];
  }
  window.addEventListener("resize", () => { for (const instance of Object.values(charts)) { instance.resize(); } });

  // Tooltips drawn on the canvas: ECharts' HTML tooltips carry inline styles, which the
  // Content-Security-Policy refuses.
  const tooltip = { renderMode: "richText", backgroundColor: "rgba(8,24,48,.92)", borderColor: "#2c5a8c", textStyle: { color: TEXT } };
  const axisLabel = { color: MUTED, fontSize: 12 };
  const splitLine = { lineStyle: { color: LINE } };

  function fontSize() { return Math.max(11, Math.min(16, Math.round(window.innerWidth / 120))); }

  function barsHorizontal(id, names, series, colours) {
    const instance = chart(id);
    if (!instance) { return; }
    const size = fontSize();
    instance.setOption({
      animation: animate,
      backgroundColor: "transparent",
      grid: { left: 8, right: 36, top: series.length > 1 ? 24 : 6, bottom: 4, containLabel: true },
      tooltip: Object.assign({ trigger: "axis", axisPointer: { type: "shadow" } }, tooltip),
      legend: series.length > 1 ? { top: 0, right: 0, textStyle: { color: MUTED, fontSize: size - 1 }, itemHeight: 8 } : { show: false },
      xAxis: { type: "value", axisLabel: Object.assign({}, axisLabel, { fontSize: size - 2 }), splitLine: splitLine, minInterval: 1 },
      yAxis: {
        type: "category",
        data: names,
        inverse: true,
        axisLabel: Object.assign({}, axisLabel, { color: TEXT, fontSize: size - 1, width: size * 7, overflow: "truncate" }),
        axisLine: { lineStyle: { color: LINE } },
        axisTick: { show: false },
      },
      series: series.map((item, index) => ({
        name: item.name,
        type: "bar",
        data: item.data,
        barMaxWidth: 14,
        barGap: "20%",
        itemStyle: { color: (colours && colours[index]) || ACCENT[index % ACCENT.length], borderRadius: [0, 3, 3, 0] },
        label: { show: true, position: "right", color: TEXT, fontSize: size - 2 },
      })),
    }, true);
  }

  function drawIntake(data) {
    const rows = data.intake.filter((row) => row.month > 0 || row.today > 0).sort((a, b) => b.month - a.month);
    barsHorizontal(
      "chart-intake",
      rows.map((row) => row.label),
      [{ name: "今日", data: rows.map((row) => row.today) }, { name: "本月", data: rows.map((row) => row.month) }],
    );
  }

  function drawStates(data) {
    const rows = data.open_by_state.filter((row) => row.count > 0).sort((a, b) => b.count - a.count);
    barsHorizontal("chart-states", rows.map((row) => row.label), [{ name: "在办", data: rows.map((row) => row.count) }], ["#64b5f6"]);
  }

  function drawLights(data) {
    const instance = chart("chart-lights");
    if (!instance) { return; }
    const size = fontSize();
    instance.setOption({
      animation: animate,
      backgroundColor: "transparent",
      tooltip: Object.assign({ trigger: "item" }, tooltip),
      legend: { orient: "vertical", right: 4, top: "middle", textStyle: { color: TEXT, fontSize: size - 1 }, itemHeight: 10 },
      series: [{
        type: "pie",
        radius: ["45%", "75%"],
        center: ["34%", "52%"],
        avoidLabelOverlap: true,
        label: { show: true, position: "inside", color: "#fff", fontSize: size - 2, formatter: "{c}" },
        data: data.open_by_light.map((row) => ({ name: row.label, value: row.count, itemStyle: { color: row.colour } })),
      }],
    }, true);
  }

  function drawCategories(data) {
    barsHorizontal(
      "chart-categories",
      data.top_categories.map((row) => row.name),
      [{ name: "本月上报", data: data.top_categories.map((row) => row.count) }],
      ["#ffb74d"],
    );
  }

  function drawTrend(data) {
    const instance = chart("chart-trend");
    if (!instance) { return; }
    const size = fontSize();
    instance.setOption({
      animation: animate,
      backgroundColor: "transparent",
      grid: { left: 8, right: 12, top: 26, bottom: 4, containLabel: true },
      tooltip: Object.assign({ trigger: "axis" }, tooltip),
      legend: { top: 0, right: 0, textStyle: { color: MUTED, fontSize: size - 1 }, itemHeight: 8 },
      xAxis: {
        type: "category",
        data: data.trend.map((row) => row.day.slice(5)),
        axisLabel: Object.assign({}, axisLabel, { fontSize: size - 2 }),
        axisLine: { lineStyle: { color: LINE } },
      },
      yAxis: { type: "value", axisLabel: Object.assign({}, axisLabel, { fontSize: size - 2 }), splitLine: splitLine, minInterval: 1 },
      series: [
        { name: "上报", type: "line", smooth: true, symbolSize: 4, data: data.trend.map((row) => row.reported), itemStyle: { color: ACCENT[0] }, areaStyle: { opacity: 0.15 } },
        { name: "结案", type: "line", smooth: true, symbolSize: 4, data: data.trend.map((row) => row.closed), itemStyle: { color: "#81c784" } },
      ],
    }, true);
  }

  // --- figures, table, list -------------------------------------------------------------------

  function figure(cell) {
    if (!cell) { return "—"; }
    return cell.display !== null && cell.display !== undefined ? cell.display : String(cell.value);
  }

  function overdue(seconds) {
    const hours = Math.floor(seconds / 3600);
    const days = Math.floor(hours / 24);
    if (days) { return `超期${days}天${hours % 24 ? (hours % 24) + "小时" : ""}`; }
    if (hours) { return `超期${hours}小时`; }
    return `超期${Math.max(1, Math.round(seconds / 60))}分钟`;
  }

  function drawFigures(data) {
    byId("kpi-today").textContent = data.today_reported.toLocaleString("zh-CN");
    byId("kpi-month").textContent = figure(data.month.reported);
    byId("kpi-open").textContent = data.open_total.toLocaleString("zh-CN");
    byId("kpi-red").textContent = data.red_total.toLocaleString("zh-CN");
    byId("kpi-closure").textContent = figure(data.month.closure_rate);
    byId("kpi-ontime").textContent = figure(data.month.on_time_closure_rate);
    byId("kpi-satisfaction").textContent = figure(data.month.satisfaction_rate);
    byId("month-label").textContent = data.month_label;
    root.dataset.redTotal = String(data.red_total);
    root.dataset.openTotal = String(data.open_total);
  }

  function drawDepartments(data) {
    const body = byId("departments").querySelector("tbody");
    body.replaceChildren();
    for (const row of data.departments) {
      const line = text("tr", row.rank && row.rank <= 3 ? `podium podium-${row.rank}` : "");
      line.append(
        text("td", "rank", row.rank === null ? "—" : row.rank),
        text("td", "name", row.name),
        text("td", "num", row.due_handling),
        text("td", "num", row.handled_on_time),
        text("td", row.overdue ? "num bad" : "num", row.overdue),
        text("td", "num rate", figure(row.on_time_handling_rate)),
      );
      body.append(line);
    }
    if (!data.departments.length) {
      const empty = text("tr");
      const cell = text("td", "empty-cell", "本月暂无应处置案件");
      cell.colSpan = 6;
      empty.append(cell);
      body.append(empty);
    }
  }

  function drawRed(data) {
    const list = byId("red-cases");
    list.replaceChildren();
    byId("red-count").textContent = `共 ${data.red_total.toLocaleString("zh-CN")} 件，超期最久的在前`;
    for (const item of data.red_cases) {
      const row = text("li", "red-case");
      const link = text("a", "red-number", item.number);
      link.href = `/cases/${encodeURIComponent(item.number)}`;
      link.target = "_blank";
      link.rel = "noopener";
      const title = text("span", "red-title", item.title);
      title.title = item.title;
      row.append(
        link,
        text("span", "red-overdue", overdue(item.overdue_seconds)),
        title,
        text("span", "red-where", [item.region_name, item.department_name].filter(Boolean).join(" · ")),
      );
      list.append(row);
    }
    if (!data.red_cases.length) { list.append(text("li", "empty-cell", "当前没有红灯案件")); }
  }

  // A wall has no scroll bar: the rows that do not fit whole are left out (the most urgent
  // and the best ranked come first).
  function fitRows(container, rows) {
    for (const row of rows) { row.hidden = false; }
    const bottom = container.getBoundingClientRect().bottom;
    for (const row of rows) { row.hidden = row.getBoundingClientRect().bottom > bottom + 1; }
  }

  function fitAll() {
    fitRows(byId("departments").parentElement, [...byId("departments").querySelectorAll("tbody tr")]);
    fitRows(byId("red-cases"), [...byId("red-cases").children]);
  }
  window.addEventListener("resize", fitAll);

  // --- loading ----------------------------------------------------------------------------------

  let loading = null;
  async function load() {
    if (loading) { loading.abort(); }
    loading = new AbortController();
    const region = config.region ? `?region=${encodeURIComponent(config.region)}` : "";
    try {
      const data = await window.CivicMap.getJSON(`/api/v1/dashboard${region}`, loading.signal);
      drawFigures(data);
      drawIntake(data);
      drawStates(data);
      drawLights(data);
      drawCategories(data);
      drawTrend(data);
      drawDepartments(data);
      drawRed(data);
      fitAll();
      animate = false;
      root.dataset.loaded = data.generated_at;
      status("");
    } catch (error) {
      if (error && error.name === "AbortError") { return; }
      if (error && error.signedOut) { signedOut(); return; }
      status("数据加载失败，稍后自动重试");
    }
  }

  let controller = null;
  const mapElement = byId("screen-map");
  if (window.L && window.CivicMap) {
    controller = window.CivicMap.create(mapElement, config, {
      compact: true,
      filters: () => ({ region_code: config.region }),
      onSignedOut: signedOut,
    });
    mapElement.civicMap = controller;
  }

  load();
  const live = window.CivicLive.watch(config.liveUrl, (reason, events) => {
    load();
    if (controller && (reason !== "event" || events.some(controller.affects))) { controller.refreshCases(); }
  }, { fallbackSeconds: config.refreshSeconds, debounceMs: 3000 });
  const liveLabel = byId("screen-live");
  setInterval(() => {
    liveLabel.textContent = live.live ? "实时更新" : `每${config.refreshSeconds}秒刷新`;
    liveLabel.classList.toggle("on", live.live);
  }, 2000);
});
