// rawlux studio front end: plain JS, no build step. Controls are generated from /api/schema.
"use strict";

const $ = (s) => document.querySelector(s);
const el = (tag, attrs = {}, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const kid of kids) if (kid != null) e.append(kid);
  return e;
};

const state = {
  schema: null, files: [], current: null, selected: new Set(),
  options: {}, view: "library", mode: "develop",
  portrait: { lens: "50", aperture: 0, focus: null }, layout: null,
  lastStats: null, fullSize: null, pick: false,
  cmp: { mode: "sheet", zoom: "fit", tx: 0, ty: 0 },
};
const inflight = {};  // kind -> AbortController (a newer request cancels the older one)

// ------------------------------------------------------------------ API

async function api(kind, url, body, { binary = false } = {}) {
  if (inflight[kind]) inflight[kind].abort();
  const ctl = new AbortController();
  inflight[kind] = ctl;
  const init = { signal: ctl.signal };
  if (body !== undefined) {
    init.method = "POST";
    init.headers = { "Content-Type": "application/json" };
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(url, init);
  } catch (e) {
    if (e.name === "AbortError") return null;
    throw new Error("the studio server does not answer (is it still running?)");
  } finally {
    if (inflight[kind] === ctl) delete inflight[kind];
  }
  if (res.status === 409) return null;  // superseded by a newer change
  if (!res.ok) {
    let msg = `${res.status}`;
    try { msg = (await res.json()).error || msg; } catch (_) { /* not JSON */ }
    throw new Error(msg);
  }
  return binary ? res.blob() : res.json();
}

function showError(msg) {
  const t = $("#error");
  t.textContent = msg;
  t.hidden = false;
  clearTimeout(showError.timer);
  showError.timer = setTimeout(() => { t.hidden = true; }, 7000);
}
const guard = (fn) => async (...a) => {
  try { return await fn(...a); } catch (e) { showError(e.message); setBusy(false); }
};
function setBusy(on) { $("#dev-busy").hidden = !on; }
function status(left, right) {
  if (left !== undefined) $("#status-left").textContent = left;
  if (right !== undefined) $("#status-right").textContent = right;
}

// ------------------------------------------------------------------ views

function showView(v) {
  state.view = v;
  document.querySelectorAll(".view").forEach((s) => s.classList.toggle("on", s.id === `view-${v}`));
  document.querySelectorAll("#tabs button").forEach((b) => b.classList.toggle("on", b.dataset.view === v));
  if (v === "compare") refreshCompare();
  if (v === "develop") render();
}
document.querySelectorAll("#tabs button").forEach((b) =>
  b.addEventListener("click", () => showView(b.dataset.view)));

// ------------------------------------------------------------------ library

const exifCache = {};
async function loadLibrary() {
  const data = await api("files", "/api/files");
  state.files = data.files;
  $("#folder-name").textContent = data.folder;
  $("#count").textContent = `${data.files.length} photo${data.files.length === 1 ? "" : "s"}`;
  const grid = $("#grid");
  grid.replaceChildren();
  const io = new IntersectionObserver((entries) => {
    for (const en of entries) {
      if (!en.isIntersecting) continue;
      const img = en.target;
      img.src = img.dataset.src;
      io.unobserve(img);
    }
  }, { rootMargin: "300px" });
  for (const f of data.files) {
    const img = el("img", { alt: f.name, "data-src": `/api/thumb?path=${encodeURIComponent(f.path)}` });
    const ph = el("div", { class: "ph" }, img);
    img.addEventListener("error", async () => {
      let msg = "cannot read this file";
      try { msg = (await (await fetch(img.src)).json()).error || msg; } catch (_) { /* keep */ }
      ph.replaceChildren(el("div", { class: "err", text: msg.replace(`${f.path}: `, "") }));
      tile.classList.add("bad");
    });
    const exif = el("div", { class: "exif" });
    const tile = el("div", { class: "tile", title: f.path, "data-path": f.path }, ph,
      el("div", { class: "name" }, el("span", { class: f.raw ? "badge raw" : "badge", text: f.raw ? "RAW" : "PHOTO" }),
        f.recipe ? el("span", { class: "badge", text: "recipe" }) : null, el("span", { text: f.name })), exif);
    tile.addEventListener("mouseenter", () => hoverExif(f.path, exif));
    tile.addEventListener("click", (ev) => {
      if (ev.ctrlKey || ev.metaKey || ev.shiftKey) {
        if (state.selected.has(f.path)) state.selected.delete(f.path); else state.selected.add(f.path);
        tile.classList.toggle("sel", state.selected.has(f.path));
        updateExportButton();
      } else openPhoto(f.path);
    });
    grid.append(tile);
    io.observe(img);
  }
  updateExportButton();
}

async function hoverExif(path, box) {
  if (box.classList.contains("ready")) return;
  try {
    const ex = exifCache[path] || (exifCache[path] = await api(`exif-${path}`, `/api/exif?path=${encodeURIComponent(path)}`));
    if (!ex) return;
    const lines = [ex.camera, ex.lens, [ex.focal, ex.aperture].filter(Boolean).join(" · "),
      [ex.shutter, ex.iso].filter(Boolean).join(" · "), ex.date, ex.hdr ? "HDR gain map" : null].filter(Boolean);
    box.replaceChildren(...(lines.length ? lines : ["no EXIF"]).map((t) => el("div", { text: t })));
    box.classList.add("ready");
  } catch (e) { box.replaceChildren(el("div", { class: "err", text: e.message })); box.classList.add("ready"); }
}

function updateExportButton() {
  $("#export-open").disabled = !(state.current || state.selected.size);
  $("#export-open").textContent = state.selected.size ? `Export ${state.selected.size}…` : "Export…";
}

// ------------------------------------------------------------------ develop: controls from the schema

function currentIsRaw() {
  const f = state.files.find((x) => x.path === state.current);
  return !f || f.raw;
}
function defaults() {
  const o = {};
  for (const f of state.schema.develop) o[f.name] = f.default;
  if (!currentIsRaw()) Object.assign(o, state.schema.photo_defaults);
  return o;
}
const fmt = (f, v) => (f.type === "float" ? `${(+v).toFixed(f.hi - f.lo > 2 ? 2 : 2)}${f.unit ? " " + f.unit : ""}` : v);

function buildControls() {
  const box = $("#controls");
  box.replaceChildren();
  const groups = {};
  const raw = currentIsRaw();
  for (const f of state.schema.develop) {
    if (f.raw_only && !raw) continue;  // a developed photo enters at the look stage
    if (!groups[f.group]) {
      groups[f.group] = el("div", { class: "group", "data-group": f.group }, el("h3", { text: f.group }));
      box.append(groups[f.group]);
    }
    groups[f.group].append(control(f));
  }
}

function control(f) {
  const id = `opt-${f.name}`;
  const label = f.name.replace(/_/g, " ");
  if (f.type === "wb") return wbControl(f);
  if (f.type === "bool") {
    const cb = el("input", { type: "checkbox", id });
    cb.checked = !!state.options[f.name];
    cb.addEventListener("change", () => setOpt(f.name, cb.checked));
    return el("label", { class: "check", title: f.doc }, cb, label);
  }
  if (f.type === "float" && f.lo !== null && f.hi !== null) {
    const val = el("span", { class: "val", text: fmt(f, state.options[f.name]) });
    const r = el("input", { type: "range", id, min: f.lo, max: f.hi, step: f.step || 0.01, value: state.options[f.name] });
    // exposure: +-10 EV is the stage's bound; a photographer moves within +-5
    if (f.name === "exposure") { r.min = -5; r.max = 5; }
    r.addEventListener("input", () => { val.textContent = fmt(f, r.value); setOpt(f.name, +r.value, true); });
    r.addEventListener("dblclick", () => { r.value = f.default; val.textContent = fmt(f, f.default); setOpt(f.name, f.default); });
    return el("div", { class: "ctl", title: `${f.doc} (double-click resets)` }, el("label", { for: id }, label, val), r);
  }
  if (f.choices) {
    if (f.name === "look" || f.choices.length <= 4) {
      const chips = el("div", { class: "chips", id });
      for (const c of f.choices) {
        const b = el("button", { text: c, "data-value": c, class: c === state.options[f.name] ? "on" : "" });
        b.addEventListener("click", () => {
          chips.querySelectorAll("button").forEach((x) => x.classList.toggle("on", x === b));
          setOpt(f.name, c);
        });
        chips.append(b);
      }
      const head = f.name === String(f.group).toLowerCase() ? null : el("label", { text: label });
      return el("div", { class: "ctl", title: f.doc }, head, chips);
    }
    const s = el("select", { id });
    for (const c of f.choices) s.append(el("option", { value: c, text: c }));
    s.value = state.options[f.name];
    s.addEventListener("change", () => setOpt(f.name, s.value));
    return el("div", { class: "ctl", title: f.doc }, el("label", { for: id, text: label }), s);
  }
  const t = el("input", { type: "text", id, value: state.options[f.name] ?? "" });
  t.addEventListener("change", () => setOpt(f.name, t.value));
  return el("div", { class: "ctl", title: f.doc }, el("label", { for: id, text: label }), t);
}

function wbControl(f) {
  const wrap = el("div", { class: "ctl", id: "opt-wb", title: f.doc });
  const cur = String(state.options.wb);
  const isK = !["as-shot", "auto"].includes(cur);
  const [k0, t0] = isK ? cur.split(",").map(Number) : [f.kelvin.default, 0];
  const chips = el("div", { class: "chips" });
  const kVal = el("span", { class: "val", text: `${Math.round(k0)} K` });
  const tVal = el("span", { class: "val", text: `${Math.round(t0 || 0)}` });
  // kelvin slider on a mired scale: equal steps look equal
  const toMired = (k) => 1e6 / k;
  const kr = el("input", { type: "range", min: toMired(15000), max: toMired(f.kelvin.lo), step: 1, value: toMired(k0) });
  const tr = el("input", { type: "range", min: f.tint.lo, max: f.tint.hi, step: 1, value: t0 || 0 });
  const sliders = el("div", {}, el("label", {}, "temperature", kVal), kr, el("label", {}, "tint", tVal), tr);
  sliders.hidden = !isK;
  const setK = () => {
    const k = Math.round(1e6 / +kr.value);
    kVal.textContent = `${k} K`; tVal.textContent = `${tr.value}`;
    setOpt("wb", `${k},${tr.value >= 0 ? "+" : ""}${tr.value}`, true);
  };
  kr.addEventListener("input", setK); tr.addEventListener("input", setK);
  for (const m of ["as-shot", "auto", "custom"]) {
    const on = (m === "custom" && isK) || m === cur;
    const b = el("button", { text: m, "data-value": m, class: on ? "on" : "" });
    b.addEventListener("click", () => {
      chips.querySelectorAll("button").forEach((x) => x.classList.toggle("on", x === b));
      sliders.hidden = m !== "custom";
      if (m === "custom") {
        // start from the white now applied (as shot or auto), not from a fixed 5500 K
        const w = state.lastStats && state.lastStats.white;
        if (w && !isK) {
          const [k, t] = w.split(",").map(Number);
          kr.value = toMired(k); tr.value = t;
        }
        setK();
      } else setOpt("wb", m);
    });
    chips.append(b);
  }
  const pick = el("button", { class: "icon", id: "wb-pick", title: "pick a neutral spot on the photo", text: "⊙ pick" });
  pick.addEventListener("click", () => setPick(!state.pick));
  wrap.append(el("label", { text: "white balance" }), el("div", { class: "wbrow" }, chips, pick), sliders);
  return wrap;
}

function setPick(on) {
  state.pick = on;
  const b = $("#wb-pick");
  if (b) b.classList.toggle("on", on);
  $("#dev-canvas").classList.toggle("pick", on || state.mode === "portrait");
  hint(on ? "click something that should be neutral grey or white" : "");
}
function hint(text) { const h = $("#dev-hint"); h.textContent = text; h.hidden = !text; }

let renderTimer = null;
function setOpt(name, value, live = false) {
  state.options[name] = value;
  clearTimeout(renderTimer);
  renderTimer = setTimeout(render, live ? 40 : 0);
}

// ------------------------------------------------------------------ develop: rendering

const edits = {};  // path -> options edited in this session (kept when moving between photos)
async function openPhoto(path) {
  if (state.current) edits[state.current] = { ...state.options };
  state.current = path;
  state.options = defaults();
  state.portrait.focus = null;
  state.fullSize = null;
  $("#photo-title").textContent = path;
  state.lastStats = null;
  const hc = $("#histogram");
  hc.getContext("2d").clearRect(0, 0, hc.width, hc.height);
  $("#dev-error").hidden = true;
  for (const id of ["#clip-shadow", "#clip-raw", "#clip-high"]) $(id).textContent = "";
  status("", "");
  document.querySelectorAll("#tabs button").forEach((b) => { b.disabled = false; });
  updateExportButton();
  if (edits[path]) state.options = { ...edits[path] };
  buildControls();  // this photo's controls at once, not the last photo's while the recipe loads
  if (!edits[path]) {
    try {
      const r = await api("recipe", `/api/recipe?path=${encodeURIComponent(path)}`);
      if (r && r.options && state.current === path) {
        Object.assign(state.options, r.options);
        status("recipe loaded from beside the photo");
        buildControls();
      }
    } catch (e) { showError(e.message); }
  }
  $("#hdr-original").hidden = true;
  api(`exif-open`, `/api/exif?path=${encodeURIComponent(path)}`).then((ex) => {
    if (ex && ex.hdr && state.current === path) $("#hdr-original").hidden = false;
  }).catch(() => {});
  $("#dev-img").removeAttribute("src");
  setMode("develop");
  showView("develop");
}

const render = async () => {
  try {
    await renderNow();
    $("#dev-error").hidden = true;
  } catch (e) {
    setBusy(false);
    $("#dev-img").removeAttribute("src");
    $("#dev-overlay").hidden = true;
    const box = $("#dev-error");
    box.textContent = e.message;
    box.hidden = false;
  }
};
// the sharper refinement a high-DPI screen needs once the quick preview is shown (a newer
// change aborts it here and supersedes it on the server)
function wantedSize() {
  const c = $("#dev-canvas").getBoundingClientRect();
  const px = Math.max(c.width, c.height) * (window.devicePixelRatio || 1);
  return Math.min(2560, Math.ceil(px / 256) * 256);
}
async function refine(body, shownSrc) {
  const size = wantedSize();
  if (!state.schema.preview_size || size <= state.schema.preview_size * 1.2) return;
  const r = await api("refine", "/api/preview", { ...body, size });
  if (r && $("#dev-img").src === shownSrc && state.mode === "develop") {
    $("#dev-img").src = r.image;
    if (r.overlay && !$("#dev-overlay").hidden) $("#dev-overlay").src = r.overlay;
    status(undefined, `refined ${r.ms} ms · ${r.stats.size[0]}×${r.stats.size[1]}`);
  }
}

const renderNow = async () => {
  if (!state.current || state.view !== "develop") return;
  if (inflight.refine) inflight.refine.abort();
  unzoom();
  $("#dev-img").style.width = "";
  setBusy(true);
  const body = { path: state.current, options: state.options, overlay: $("#show-clipping").checked };
  let r;
  if (state.mode === "portrait") {
    r = await api("render", "/api/portrait", { ...body, lens: state.portrait.lens,
      aperture: state.portrait.aperture, focus: state.portrait.focus });
  } else if (state.mode === "frame" && state.layout) {
    r = await api("render", "/api/frame", { ...body, layout: state.layout });
  } else {
    r = await api("render", "/api/preview", body);
  }
  if (!r) return;  // superseded: the newer request shows its result
  setBusy(false);
  $("#dev-img").src = r.image;
  const ov = $("#dev-overlay");
  if (r.overlay && state.mode === "develop") { ov.src = r.overlay; ov.hidden = false; } else ov.hidden = true;
  if (r.stats) { state.lastStats = r.stats; state.fullSize = r.stats.full_size || null; drawHistogram(r.stats); }
  $("#portrait-note").textContent = r.note || "";
  const notes = (r.stats && r.stats.notes) || [];
  $("#dev-notes").textContent = notes.join(" · ");
  $("#dev-notes").hidden = !notes.length;
  const what = currentIsRaw() ? ` · ${state.options.wb}` : "";
  status(`${state.options.look}${what} · ${(+state.options.exposure).toFixed(2)} EV`,
    `${state.mode === "develop" ? "preview" : state.mode} ${r.ms} ms${r.stats ? ` · ${r.stats.size[0]}×${r.stats.size[1]}` : ""}`);
  placeFocusDot();
  if (state.mode === "develop") refine(body, $("#dev-img").src).catch(() => {});
};

function drawHistogram(s) {
  const c = $("#histogram");
  if (!c.clientWidth) return;
  const dpr = window.devicePixelRatio || 1;
  c.width = c.clientWidth * dpr; c.height = c.clientHeight * dpr;
  const g = c.getContext("2d");
  const W = c.width, H = c.height;
  g.clearRect(0, 0, W, H);
  g.globalCompositeOperation = "lighter";
  const draw = (hist, color) => {
    const n = hist.length;
    g.beginPath(); g.moveTo(0, H);
    hist.forEach((v, i) => g.lineTo((i / (n - 1)) * W, H - Math.min(1, v) * (H - 4)));
    g.lineTo(W, H); g.closePath(); g.fillStyle = color; g.fill();
  };
  draw(s.r, "rgba(220,70,60,0.55)"); draw(s.g, "rgba(70,190,90,0.5)"); draw(s.b, "rgba(70,110,235,0.6)");
  g.globalCompositeOperation = "source-over";
  g.beginPath();
  s.l.forEach((v, i) => { const x = (i / (s.l.length - 1)) * W, y = H - Math.min(1, v) * (H - 4); i ? g.lineTo(x, y) : g.moveTo(x, y); });
  g.strokeStyle = "rgba(235,235,230,0.8)"; g.lineWidth = dpr; g.stroke();
  const hi = s.clipped_high_percent, lo = s.clipped_low_percent;
  const set = (id, text, hot) => { const e = $(id); e.textContent = text; e.classList.toggle("hot", hot); };
  set("#clip-shadow", `◼ ${lo}%`, lo > 0.5);
  set("#clip-high", `${hi}% ◻`, hi > 0.5);
  set("#clip-raw", s.raw_clipped_percent == null ? "photo" : `raw clipped ${s.raw_clipped_percent}%`, s.raw_clipped_percent > 0.5);
  if (hi > 0.5) { g.fillStyle = "#e0625a"; g.fillRect(W - 6 * dpr, 0, 6 * dpr, 6 * dpr); }
  if (lo > 0.5) { g.fillStyle = "#5a82e0"; g.fillRect(0, 0, 6 * dpr, 6 * dpr); }
}

$("#show-clipping").addEventListener("change", render);

function imgFraction(ev) {
  const r = $("#dev-img").getBoundingClientRect();
  return [(ev.clientX - r.left) / r.width, (ev.clientY - r.top) / r.height];
}
$("#dev-img").addEventListener("click", guard(async (ev) => {
  const [x, y] = imgFraction(ev);
  if (x < 0 || x > 1 || y < 0 || y > 1) return;
  if (state.pick) {
    setPick(false);
    const r = await api("pick", "/api/whitepick", { path: state.current, options: state.options, x, y });
    if (!r) return;
    state.options.wb = r.wb;
    buildControls();
    status(`white balance from the picked spot: ${r.wb}`);
    render();
  } else if (state.mode === "portrait") {
    state.portrait.focus = [x, y];
    render();
  }
}));
function placeFocusDot() {
  const d = $("#focus-dot");
  const f = state.portrait.focus;
  d.hidden = !(state.mode === "portrait" && f);
  if (!d.hidden) { d.style.left = `${f[0] * 100}%`; d.style.top = `${f[1] * 100}%`; }
}

function setMode(m) {
  state.mode = m;
  for (const k of ["develop", "portrait", "frame"]) $(`#mode-${k}`).classList.toggle("on", k === m);
  $("#controls").hidden = m !== "develop";
  $("#portrait-controls").hidden = m !== "portrait";
  $("#frame-controls").hidden = m !== "frame";
  setPick(false);
  if (m === "frame" && !state.layout) state.layout = state.schema.layouts[0];
  buildModeChips();
  render();
}
for (const k of ["develop", "portrait", "frame"]) $(`#mode-${k}`).addEventListener("click", () => setMode(k));

const APERTURES = [0, 1.2, 1.4, 2, 2.8, 4, 5.6, 8, 11];
function buildModeChips() {
  const lc = $("#lens-chips");
  lc.replaceChildren(...state.schema.lenses.map((n) => {
    const b = el("button", { text: `${n} mm`, class: n === state.portrait.lens ? "on" : "" });
    b.addEventListener("click", () => { state.portrait.lens = n; buildModeChips(); render(); });
    return b;
  }));
  const ly = $("#layout-chips");
  ly.replaceChildren(...state.schema.layouts.map((n) => {
    const b = el("button", { text: n, class: n === state.layout ? "on" : "", "data-value": n });
    b.addEventListener("click", () => { state.layout = n; buildModeChips(); render(); });
    return b;
  }));
}
$("#aperture").addEventListener("input", () => {
  const a = APERTURES[+$("#aperture").value];
  state.portrait.aperture = a;
  $("#ap-val").textContent = a ? `f/${a}` : "lens default";
  clearTimeout(renderTimer); renderTimer = setTimeout(render, 150);
});

$("#recipe-save").addEventListener("click", guard(async () => {
  const r = await api("recipe-save", "/api/recipe", { path: state.current, options: state.options });
  if (!r) return;
  status(`saved ${r.saved}`);
  const f = state.files.find((x) => x.path === state.current);
  if (f && !f.recipe) {
    f.recipe = true;
    const name = document.querySelector(`.tile[data-path="${CSS.escape(f.path)}"] .name`);
    if (name) name.insertBefore(el("span", { class: "badge", text: "recipe" }), name.lastChild);
  }
}));
$("#recipe-reset").addEventListener("click", () => { state.options = defaults(); buildControls(); render(); });
function unzoom() {
  $("#dev-canvas").classList.remove("zoomed");
  $("#full-res").classList.remove("on");
  $("#hdr-original").classList.remove("on");
}
$("#full-res").addEventListener("click", guard(async () => {
  if ($("#dev-canvas").classList.contains("zoomed")) { unzoom(); render(); return; }
  setBusy(true); status(undefined, "rendering full size…");
  const blob = await api("render", "/api/full", { path: state.current, options: state.options }, { binary: true });
  setBusy(false);
  if (!blob) return;
  const img = $("#dev-img");
  await setImg(img, URL.createObjectURL(blob));
  $("#dev-overlay").hidden = true;
  img.style.width = `${img.naturalWidth / (window.devicePixelRatio || 1)}px`;
  $("#dev-canvas").classList.add("zoomed");
  $("#full-res").classList.add("on");
  status(undefined, `full size ${img.naturalWidth}×${img.naturalHeight} · 1:1 · click 1:1 again to fit`);
}));
$("#hdr-original").addEventListener("click", () => {
  const b = $("#hdr-original");
  if (b.classList.contains("on")) { unzoom(); render(); return; }
  b.classList.add("on");
  $("#dev-overlay").hidden = true;
  $("#dev-img").src = `/api/original?path=${encodeURIComponent(state.current)}`;
  status(undefined, "original file: shown in HDR where this screen and browser support gain maps");
});

// ------------------------------------------------------------------ compare

function setCmp(mode) {
  state.cmp.mode = mode;
  for (const k of ["sheet", "split", "side"]) $(`#cmp-${k}`).classList.toggle("on", k === mode);
  refreshCompare();
}
for (const k of ["sheet", "split", "side"]) $(`#cmp-${k}`).addEventListener("click", () => setCmp(k));

const refreshCompare = guard(async () => {
  if (!state.current) return;
  const sheet = state.cmp.mode === "sheet";
  $("#sheet").hidden = !sheet;
  $("#ba").hidden = sheet;
  $("#cmp-zoom-group").hidden = sheet;
  if (sheet) return loadSheet();
  const ba = $("#ba");
  ba.classList.toggle("split", state.cmp.mode === "split");
  $("#divider").hidden = state.cmp.mode !== "split";
  $("#tag-after").textContent = `After · ${state.options.look}`;
  $("#cmp-info").textContent = "loading…";
  const [a, b] = await Promise.all([
    api("before", "/api/preview", { path: state.current, options: state.options, before: true }),
    api("after", "/api/preview", { path: state.current, options: state.options }),
  ]);
  if (!a || !b) return;
  state.fullSize = (b.stats && b.stats.full_size) || null;
  await Promise.all([setImg($("#img-before"), a.image), setImg($("#img-after"), b.image)]);
  $("#cmp-info").textContent = "";
  state.cmp.previewSize = b.stats.size;
  if (state.cmp.zoom === "100") loadFull(); else fitCompare();
});

function setImg(img, src) {
  return new Promise((ok) => { img.onload = () => ok(); img.onerror = () => ok(); img.src = src; });
}

async function loadSheet() {
  const box = $("#sheet");
  $("#cmp-info").textContent = "rendering every look…";
  const t0 = performance.now();
  const r = await api("sheet", "/api/sheet", { path: state.current, options: state.options });
  if (!r) return;
  box.replaceChildren(...r.tiles.map((t) => {
    const tile = el("div", { class: t.look === state.options.look ? "look-tile on" : "look-tile", "data-look": t.look },
      el("img", { src: t.image, alt: t.look }), el("div", { class: "lbl", text: t.look }));
    tile.addEventListener("click", () => {
      state.options.look = t.look;
      buildControls();
      showView("develop");
    });
    return tile;
  }));
  $("#cmp-info").textContent = `${r.tiles.length} looks · ${r.ms} ms (page ${Math.round(performance.now() - t0)} ms) · click one to use it`;
}

// synchronised zoom and pan: one transform for both images
function paneSize() { const p = $("#pane-a").getBoundingClientRect(); return [p.width, p.height]; }
function applyTransform() {
  const { tx, ty, scale } = state.cmp;
  for (const img of [$("#img-before"), $("#img-after")])
    img.style.transform = `translate(${tx}px, ${ty}px) scale(${scale})`;
}
function fitCompare() {
  const img = $("#img-after");
  const [pw, ph] = paneSize();
  const w = img.naturalWidth || 1, h = img.naturalHeight || 1;
  const s = Math.min(pw / w, ph / h);
  Object.assign(state.cmp, { scale: s, tx: (pw - w * s) / 2, ty: (ph - h * s) / 2 });
  applyTransform();
}
function zoomTo100(cx, cy) {
  // 100 %: one image pixel per screen pixel of the full-resolution photo
  const img = $("#img-after");
  const full = state.fullSize ? state.fullSize[0] : img.naturalWidth;
  const [pw, ph] = paneSize();
  const fx = cx ?? 0.5, fy = cy ?? 0.5;
  const s = (full / img.naturalWidth) / (window.devicePixelRatio || 1);
  Object.assign(state.cmp, { scale: s, tx: pw / 2 - fx * img.naturalWidth * s, ty: ph / 2 - fy * img.naturalHeight * s });
  applyTransform();
}
async function loadFull() {
  zoomTo100();
  $("#cmp-info").textContent = "rendering full resolution…";
  const [a, b] = await Promise.all([
    api("full-before", "/api/full", { path: state.current, options: state.options, before: true }, { binary: true }),
    api("full-after", "/api/full", { path: state.current, options: state.options }, { binary: true }),
  ]);
  if (!a || !b) return;
  const img = $("#img-after");
  const cx = (paneSize()[0] / 2 - state.cmp.tx) / (img.naturalWidth * state.cmp.scale);
  const cy = (paneSize()[1] / 2 - state.cmp.ty) / (img.naturalHeight * state.cmp.scale);
  await Promise.all([setImg($("#img-before"), URL.createObjectURL(a)), setImg(img, URL.createObjectURL(b))]);
  zoomTo100(cx, cy);
  $("#cmp-info").textContent = "100 % · drag to pan (both sides move together)";
}
$("#zoom-fit").addEventListener("click", () => { state.cmp.zoom = "fit"; $("#zoom-fit").classList.add("on"); $("#zoom-100").classList.remove("on"); fitCompare(); });
$("#zoom-100").addEventListener("click", guard(async () => {
  state.cmp.zoom = "100"; $("#zoom-100").classList.add("on"); $("#zoom-fit").classList.remove("on"); await loadFull();
}));

let drag = null;
$("#ba").addEventListener("pointerdown", (ev) => {
  if (ev.target.closest("#divider")) { drag = { split: true }; ev.preventDefault(); return; }
  drag = { x: ev.clientX, y: ev.clientY, tx: state.cmp.tx, ty: state.cmp.ty };
});
window.addEventListener("pointermove", (ev) => {
  if (!drag) return;
  if (drag.split) {
    const r = $("#ba").getBoundingClientRect();
    const p = Math.max(0, Math.min(100, ((ev.clientX - r.left) / r.width) * 100));
    $("#ba").style.setProperty("--split", `${p}%`);
    return;
  }
  state.cmp.tx = drag.tx + ev.clientX - drag.x;
  state.cmp.ty = drag.ty + ev.clientY - drag.y;
  applyTransform();
});
window.addEventListener("pointerup", () => { drag = null; });
$("#ba").addEventListener("wheel", (ev) => {
  ev.preventDefault();
  const r = $("#pane-a").getBoundingClientRect();
  const mx = ev.clientX - r.left, my = ev.clientY - r.top;
  const k = Math.exp(-ev.deltaY * 0.0015);
  const c = state.cmp;
  c.tx = mx - (mx - c.tx) * k; c.ty = my - (my - c.ty) * k; c.scale *= k;
  applyTransform();
}, { passive: false });
window.addEventListener("resize", () => { if (state.view === "compare" && state.cmp.zoom === "fit") fitCompare(); });

// ------------------------------------------------------------------ export

const FORMATS = ["jpg", "heic", "avif", "tif", "png"];
let exportFmt = "jpg";
function exportTargets() {
  return state.selected.size ? [...state.selected] : state.current ? [state.current] : [];
}
$("#export-open").addEventListener("click", () => {
  const t = exportTargets();
  $("#export-what").textContent = t.length === 1 ? t[0] : `${t.length} selected photos`;
  $("#fmt-chips").replaceChildren(...FORMATS.map((f) => {
    const b = el("button", { text: f.toUpperCase(), class: f === exportFmt ? "on" : "", type: "button" });
    b.addEventListener("click", () => { exportFmt = f; $("#fmt-chips").querySelectorAll("button").forEach((x) => x.classList.toggle("on", x === b)); });
    return b;
  }));
  $("#export-progress").hidden = true;
  $("#export-results").replaceChildren();
  $("#hdr-row").hidden = !state.schema.export_hdr;
  // the frame chosen in the Frame mode: offered (and ticked) when that mode is on
  $("#frame-row").hidden = !state.layout;
  $("#frame-name").textContent = state.layout || "";
  $("#export-frame").checked = state.mode === "frame" && !!state.layout;
  $("#export-go").disabled = false;
  $("#export-dlg").showModal();
});
$("#quality").addEventListener("input", () => { $("#q-val").textContent = $("#quality").value; });
$("#export-go").addEventListener("click", guard(async (ev) => {
  ev.preventDefault();
  const paths = exportTargets();
  $("#export-go").disabled = true;
  $("#export-progress").hidden = false;
  const job = await api("export", "/api/export", { paths, options: state.options, format: exportFmt,
    quality: +$("#quality").value, use_saved_recipes: $("#use-recipes").checked,
    hdr: !$("#hdr-row").hidden && $("#export-hdr").checked,
    frame: !$("#frame-row").hidden && $("#export-frame").checked ? state.layout : null });
  if (!job) return;
  $("#export-stop").hidden = false;
  $("#export-stop").onclick = () => {  // stops before the next photo (or the next batch)
    $("#export-stop").hidden = true;
    api("job-cancel", `/api/jobs/${job.id}/cancel`, {});
  };
  const poll = async () => {
    const j = await api("job", `/api/jobs/${job.id}`);
    if (!j) return;
    const pct = j.total ? Math.round((100 * j.done) / j.total) : 0;
    $("#export-bar").style.width = `${pct}%`;
    if (!j.finished) {
      $("#export-status").textContent = `${j.done} of ${j.total}${j.current ? " · " + j.current : ""}`;
      setTimeout(poll, 400);
      return;
    }
    $("#export-bar").style.width = "100%";
    $("#export-stop").hidden = true;
    const done = j.results.filter((r) => r.status === "done").length;
    const skipped = j.results.filter((r) => r.status === "skipped").length;
    const errs = j.results.filter((r) => r.status === "error");
    const stopped = j.results.length < j.total ? `, stopped (${j.total - j.results.length} not exported)` : "";
    $("#export-status").textContent = j.error ? j.error :
      `${done} exported, ${skipped} already done${stopped}${errs.length ? `, ${errs.length} failed: ${errs.map((e) => e.error).join("; ")}` : ""} → rawlux-export/`;
    $("#export-go").disabled = false;
    // open an exported file as the browser shows it (an Ultra HDR JPEG in HDR where supported)
    $("#export-results").replaceChildren(...j.results.filter((r) => r.output && r.status !== "error").slice(0, 8).map((r) => {
      const b = el("button", { type: "button", class: "link", text: `view ${r.output}` });
      b.addEventListener("click", () => viewExport(r.output));
      return b;
    }));
  };
  poll();
}));

function viewExport(output) {
  $("#export-dlg").close();
  showView("develop");
  setTimeout(() => {
    if (inflight.render) inflight.render.abort();
    setBusy(false);
    $("#dev-overlay").hidden = true;
    $("#dev-img").src = `/api/original?path=${encodeURIComponent(`rawlux-export/${output}`)}`;
    status(undefined, `exported file rawlux-export/${output}`);
  }, 50);
}

// ------------------------------------------------------------------ keyboard
// develop: hold B to see the photo before any change; ← → previous / next photo; Esc library

let beforeShown = null;
document.addEventListener("keydown", guard(async (ev) => {
  if (ev.target.closest("input, select, textarea, dialog")) return;
  if (state.view === "develop" && (ev.key === "b" || ev.key === "\\") && !beforeShown && !ev.repeat) {
    beforeShown = $("#dev-img").src;
    const r = await api("before-key", "/api/preview", { path: state.current, options: state.options, before: true });
    if (r && beforeShown) { $("#dev-img").src = r.image; hint("before · neutral, as shot"); }
  } else if ((ev.key === "ArrowRight" || ev.key === "ArrowLeft") && state.view !== "library" && state.current) {
    const i = state.files.findIndex((f) => f.path === state.current);
    const j = i + (ev.key === "ArrowRight" ? 1 : -1);
    if (i >= 0 && j >= 0 && j < state.files.length) {
      const view = state.view;
      await openPhoto(state.files[j].path);
      if (view === "compare") showView("compare");
    }
  } else if (ev.key === "Escape" && state.view !== "library") showView("library");
}));
document.addEventListener("keyup", (ev) => {
  if ((ev.key === "b" || ev.key === "\\") && beforeShown) {
    if (inflight["before-key"]) inflight["before-key"].abort();
    $("#dev-img").src = beforeShown;
    beforeShown = null;
    hint("");
  }
});

// ------------------------------------------------------------------ start

guard(async () => {
  state.schema = await api("schema", "/api/schema");
  state.options = defaults();
  await loadLibrary();
})();
