// Small helps on the pages, loaded as a file (the CSP allows no inline script). Every page
// works without them.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  // Intake: "use my location" fills the coordinate from the phone's position (WGS-84), and
  // the grid lookup (htmx, on change) follows.
  for (const button of document.querySelectorAll("[data-locate]")) {
    if (!("geolocation" in navigator)) { button.hidden = true; continue; }
    button.hidden = false;
    button.addEventListener("click", () => {
      const status = document.getElementById(button.dataset.locate);
      status.textContent = "正在获取位置…";
      navigator.geolocation.getCurrentPosition((position) => {
        const form = button.form;
        form.elements.lng.value = position.coords.longitude.toFixed(6);
        form.elements.lat.value = position.coords.latitude.toFixed(6);
        form.elements.lat.dispatchEvent(new Event("change", { bubbles: true }));
        status.textContent = "";
      }, () => { status.textContent = "无法获取位置，请手动填写经纬度"; },
      { enableHighAccuracy: true, timeout: 15000 });
    });
  }
  // Category picker: typing a name or code narrows the big → small class list.
  for (const input of document.querySelectorAll("[data-filter-select]")) {
    const select = document.getElementById(input.dataset.filterSelect);
    input.hidden = false;
    input.addEventListener("input", () => {
      const wanted = input.value.trim().toLowerCase();
      let first = null;
      for (const group of select.querySelectorAll("optgroup")) {
        let shown = 0;
        for (const option of group.querySelectorAll("option")) {
          const hit = !wanted || option.textContent.toLowerCase().includes(wanted)
            || group.label.toLowerCase().includes(wanted);
          option.hidden = !hit;
          if (hit) { shown += 1; first = first || option; }
        }
        group.hidden = shown === 0;
      }
      const current = select.selectedOptions[0];
      if (wanted && first && (!select.value || (current && current.hidden))) { select.value = first.value; }
    });
  }
  // Photos: more, or larger, than the server takes are refused here at once, in Chinese
  // (the server checks again, and refuses the same with the same words).
  for (const input of document.querySelectorAll("input[type=file][data-max-bytes]")) {
    const problem = input.closest(".photo-input").querySelector("[data-photo-problem]");
    const count = input.closest(".photo-input").querySelector("[data-photo-count]");
    const counted = () => {
      const names = [...input.files].map((file) => file.name);
      count.textContent = names.length ? `已选 ${names.length} 张：${names.join("、")}` : "未选择照片";
    };
    counted();
    input.addEventListener("change", () => {
      const most = Number(input.dataset.maxFiles);
      const largest = Number(input.dataset.maxBytes);
      const files = [...input.files];
      let message = "";
      if (files.length > most) {
        message = `每次最多上传 ${most} 张照片`;
      } else {
        const big = files.find((file) => file.size > largest);
        if (big) { message = `照片「${big.name}」超过 ${input.dataset.maxMb} MB 的上限，请压缩后重新选择`; }
      }
      problem.textContent = message;
      problem.hidden = !message;
      if (message) { input.value = ""; }
      counted();
    });
  }
  // Intake shown again (something was wrong): the place of the coordinate typed before.
  const typedLat = document.querySelector("input[name=lat][hx-get]");
  if (typedLat && typedLat.value && typedLat.form.elements.lng.value) {
    typedLat.dispatchEvent(new Event("change", { bubbles: true }));
  }
  // Intake: once the place of a point is shown, a point picked on the map fills the
  // coordinate (the server turned it into WGS-84), and the duplicate hint looks again.
  document.body.addEventListener("htmx:afterSwap", (event) => {
    if (event.detail.target.id !== "place") { return; }
    const found = document.getElementById("place-found");
    const form = event.detail.target.closest("form");
    if (found && found.dataset.picked !== undefined && form) {
      form.elements.lng.value = found.dataset.lng;
      form.elements.lat.value = found.dataset.lat;
    }
    document.body.dispatchEvent(new Event("placed"));
  });
});
