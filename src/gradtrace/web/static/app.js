// gradtrace explorer: state in the form, numbers from the API, drawing in SVG and canvas.
// The page computes nothing itself: every number shown comes from /api (the engine).
"use strict";

const ACTIVATIONS = ["sigmoid", "tanh", "relu", "leaky_relu", "softsign", "identity"];
const MAX_DEPTH = 50;
const SVGNS = "http://www.w3.org/2000/svg";
const $ = (id) => document.getElementById(id);

const state = {
  depth: 3, activation: "sigmoid", output_activation: "sigmoid", loss: "bce",
  biases: false, residual: false, x: 0.63, target: 1,
  weights: [0.25, -0.11, 0.78], bias: [0, 0, 0],
};
let presets = {};
const curves = {};            // activation name -> {z, derivative}
let traceAbort = null;        // the in-flight /api/trace request, cancelled by a newer edit
let traceSeq = 0;
let deriveKey = "";
let lastTrace = null;

// ---- formatting -------------------------------------------------------------------------------
// six significant digits, or every digit of the float64 when "full values" is ticked (touch and
// keyboard reach it there; a mouse also gets the full value on hover, in title)
let showFull = false;
function fmt(v) {
  if (v === null || v === undefined) return "—";
  if (showFull) return full(v);
  return short(v);
}
function short(v) {  // always six digits: chart labels, whose room is fixed
  if (v === null || v === undefined) return "—";
  if (v === 0) return "0";
  const a = Math.abs(v);
  return (a >= 1e-4 && a < 1e6) ? String(Number(v.toPrecision(6))) : v.toExponential(5);
}
// the full float64 value (shortest round-trip form), shown on hover where fmt shortened it
function full(v) { return v === null || v === undefined ? "not finite" : String(v); }
function el(tag, attrs = {}, text) {
  const e = document.createElementNS(SVGNS, tag);
  // a style through the CSSOM: the server's Content-Security-Policy refuses style attributes
  for (const [k, v] of Object.entries(attrs)) if (k === "style") e.style.cssText = v; else e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}
function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
// dark blue (f = 0, small) to yellow (f = 1, large): the strip, the heat map and their colour bars
function colour(f) { return `hsl(${240 - 190 * f}, 85%, ${25 + 40 * f}%)`; }
function colourBar() {
  return `linear-gradient(to right, ${[0, 0.25, 0.5, 0.75, 1].map(colour).join(", ")})`;
}
// WCAG 2 contrast: text on a cell of colour(f) is white or near-black, whichever contrasts more
function hslRgb(h, s, l) {  // h in degrees, s and l in [0, 1] -> [r, g, b] in [0, 1]
  const k = (n) => (n + h / 30) % 12, a = s * Math.min(l, 1 - l);
  return [0, 8, 4].map((n) => l - a * Math.max(-1, Math.min(k(n) - 3, 9 - k(n), 1)));
}
function luminance([r, g, b]) {
  const lin = (c) => (c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
}
function contrast(l1, l2) { return (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05); }
const INK = "#101828", INK_L = luminance([16, 24, 40].map((c) => c / 255));
function inkOn(f) {  // the text colour for a cell of colour(f); f = null: a black cell
  if (f === null) return "#fff";
  const bg = luminance(hslRgb(240 - 190 * f, 0.85, 0.25 + 0.4 * f));
  return contrast(bg, 1) >= contrast(bg, INK_L) ? "#fff" : INK;
}

// ---- errors: beside their control and in the banner at the top ---------------------------------
// source ("trace", "mc", "tr", "input:<id>") -> {message, ids: the controls it names}
const errorSources = new Map();
const FIELD_IDS = {
  x: "x", target: "target", loss: "loss", activation: "activation",
  output_activation: "output_activation", residual: "residual", depth: "depth",
};
const MC_IDS = { std: "mc-std", samples: "mc-samples", seed: "mc-seed", init: "mc-init", depth: "depth" };
const TR_IDS = { learning_rate: "tr-lr", steps: "tr-steps", clip_norm: "tr-clip", target_scale: "tr-scale" };
function idsFor(loc, extra = {}) {
  const [name, index] = loc.slice(1);  // loc: ["body", field, index?]
  if (name === "weights" && index !== undefined) return [`w-${Number(index) + 1}`];
  if (name === "biases" && index !== undefined) return [`b-${Number(index) + 1}`];
  const id = extra[name] || FIELD_IDS[name];
  return id ? [id] : [];
}
// what a control is called on the page (its label's words), for "go to" buttons
const CONTROL_NAMES = {
  "th-sw": "σ_w²", "th-sb": "σ_b²", "th-depth": "depth L (theory)", "th-width": "width N",
  "th-samples": "nets", target: "target ŷ", x: "input x", "tr-clip": "clip at norm",
};
function controlName(c) {
  if (CONTROL_NAMES[c.id]) return CONTROL_NAMES[c.id];
  const aria = c.getAttribute("aria-label");
  if (aria) return aria.replace(/ slider$/, "");
  const label = c.labels && c.labels[0];
  if (!label) return "the field";
  const copy = label.cloneNode(true);  // the label's own words, without its control's
  copy.querySelectorAll("input, select, textarea, .field-error").forEach((n) => n.remove());
  return copy.textContent.replace(/\s+/g, " ").trim() || "the field";
}
// an error: {message, ids}, and for a request that can be repeated (a busy or unreachable
// server) retry: the function that repeats it, at: when the server said it may be repeated
function setError(source, message, ids = [], retry = null, after = 0) {
  if (message) errorSources.set(source, { message, ids, retry, at: Date.now() + 1000 * after });
  else errorSources.delete(source);
  renderErrors();
}
let retryTimer = 0;
function retryButton(source, { retry, at }) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = "retry";
  const tick = () => {
    const left = Math.ceil((at - Date.now()) / 1000);
    b.disabled = left > 0;
    b.textContent = left > 0 ? `Retry (in ${left} s)` : "Retry";
    return left > 0;
  };
  if (tick()) {  // one timer for all the buttons: the banner is rebuilt when it changes
    clearInterval(retryTimer);
    retryTimer = setInterval(() => {
      const waiting = [...document.querySelectorAll("#error button.retry")].map((x) => x.tick()).some(Boolean);
      if (!waiting) clearInterval(retryTimer);
    }, 250);
  }
  b.tick = tick;
  b.addEventListener("click", () => { setError(source, ""); retry(); });
  return b;
}
function renderErrors() {
  document.querySelectorAll("[aria-invalid]").forEach((c) => {
    c.removeAttribute("aria-invalid");
    const d = (c.getAttribute("aria-describedby") || "").split(" ").filter((x) => !x.endsWith("-error"));
    if (d.length) c.setAttribute("aria-describedby", d.join(" ")); else c.removeAttribute("aria-describedby");
  });
  document.querySelectorAll(".field-error").forEach((e) => e.remove());
  const banner = $("error");
  clear(banner);
  banner.hidden = errorSources.size === 0;
  if (!errorSources.size) return;
  const list = document.createElement("ul");
  for (const [source, entry] of errorSources) {
    const { message, ids, retry } = entry;
    const li = document.createElement("li");
    li.textContent = message;
    if (retry) li.append(retryButton(source, entry));
    for (const id of ids) {
      const c = $(id);
      if (!c) continue;
      c.setAttribute("aria-invalid", "true");
      let note = $(`${id}-error`);
      if (!note) {
        note = document.createElement("p");
        note.className = "field-error";
        note.id = `${id}-error`;
        // after the control's row (a weight) or its label, so it sits beside the control
        (c.closest(".wrow") || c.closest("label") || c).after(note);
      }
      note.textContent = note.textContent ? `${note.textContent}; ${message}` : message;
      const d = c.getAttribute("aria-describedby");
      c.setAttribute("aria-describedby", d ? `${d} ${note.id}` : note.id);
      const go = document.createElement("button");
      go.type = "button";
      go.textContent = `go to ${controlName(c)}`;
      go.addEventListener("click", () => { c.scrollIntoView({ block: "center" }); c.focus(); });
      li.append(go);
    }
    list.append(li);
  }
  banner.append(list);
  markTraceStale();
}
function showError(msg) { setError("general", msg); }  // an error no control owns
class ApiError extends Error {
  constructor(message, locs) { super(message); this.locs = locs; }
}
// the server could not answer now (503, 429) or could not be reached: worth a retry, after
// `after` seconds (its Retry-After)
class BusyError extends Error {
  constructor(message, after) { super(message); this.after = after; }
}
function retryAfter(header) {  // seconds, from delta-seconds or an HTTP date; 2 if absent
  if (header === null) return 2;
  if (/^\s*\d+\s*$/.test(header)) return Math.min(3600, Number(header));
  const when = Date.parse(header);
  return Number.isFinite(when) ? Math.max(0, Math.min(3600, (when - Date.now()) / 1000)) : 2;
}
async function api(path, body, signal, meta) {
  let r;
  try {
    r = await fetch(path, body === undefined ? { signal } : {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify(body), signal,
    });
  } catch (e) {
    if (e.name === "AbortError") throw e;
    throw new BusyError("the server cannot be reached (is gradtrace serve still running?)", 0);
  }
  if (meta) meta.headers = r.headers;
  const text = await r.text();
  let data = null;
  try { data = JSON.parse(text); } catch { data = null; }  // an error page need not be JSON
  const detail = data && typeof data.detail === "string" ? data.detail : "";
  if (r.status === 503 || r.status === 429) {
    const s = retryAfter(r.headers.get("retry-after"));
    throw new BusyError(`The server is busy and could not answer now${detail ? ` (${detail})` : ""}. ` +
      "Nothing is wrong with your input: retry in a moment.", s);
  }
  if (!r.ok) {
    const d = data && data.detail;
    if (Array.isArray(d)) throw new ApiError(d.map((x) => x.msg).join("; "), d.map((x) => x.loc || []));
    throw new ApiError(detail || `the server answered ${r.status}${r.statusText ? ` ${r.statusText}` : ""}`, []);
  }
  if (data === null) throw new ApiError(`the server's answer to ${path} was not readable`, []);
  return data;
}
// an API call that failed: beside its controls (a bad value), or with a Retry button (busy)
function failed(source, e, retry, ids = [], prefix = "") {
  if (e instanceof BusyError) setError(source, prefix + e.message, [], retry, e.after);
  else setError(source, prefix + e.message, ids);
}

// ---- stale panels: a result stays on screen, marked, until it is computed again ---------------
const shownFor = { mc: null, tr: null };  // the request each panel's result answers
function setStale(panel, reason) {
  document.querySelectorAll(`section[data-panel=${panel}]`).forEach((sec) => {
    const note = sec.querySelector(".stale-note");
    if (reason) sec.dataset.stale = "true"; else delete sec.dataset.stale;
    if (note) { note.hidden = !reason; note.textContent = reason ? `Stale: ${reason}` : ""; }
  });
}
function markTraceStale() {
  const bad = [...errorSources.keys()].some((k) => k === "trace" || k.startsWith("input:"));
  setStale("trace", bad && lastTrace
    ? "computed for an older network; these are the numbers of the last valid input. Fix the error above to update." : "");
}
function refreshStale() {
  const rerun = "computed for an older network — rerun to update.";
  setStale("mc", shownFor.mc !== null && shownFor.mc !== JSON.stringify(mcBody()) ? rerun : "");
  setStale("tr", shownFor.tr !== null && shownFor.tr !== JSON.stringify(trBody()) ? rerun : "");
  markTraceStale();
}

// ---- scroll cues: a box that scrolls says so, in a line above it (in view before the box is) --
function updateScrollCues() {
  document.querySelectorAll(".scroll").forEach((box) => {
    let cue = box.previousElementSibling;
    if (!cue || !cue.classList.contains("scroll-cue")) {
      cue = document.createElement("p");
      cue.className = "scroll-cue";
      box.before(cue);
    }
    const wide = box.scrollWidth > box.clientWidth + 1, tall = box.scrollHeight > box.clientHeight + 1;
    // a box that scrolls takes the focus, so the keyboard can scroll it too
    if (wide || tall) { box.dataset.overflow = wide && tall ? "both" : wide ? "x" : "y"; box.tabIndex = 0; }
    else { delete box.dataset.overflow; box.removeAttribute("tabindex"); }
    cue.textContent = wide && tall ? "↔ ↕ the box below scrolls: more to the right and further down"
      : wide ? "↔ the box below scrolls sideways: more to the right" : tall ? "↕ the box below scrolls: more further down" : "";
  });
}
// the charts take their box's width: drawn again when it changes (a resize, a panel shown)
let redrawFrame = 0, drawnWidth = 0;
function redrawCharts() {
  cancelAnimationFrame(redrawFrame);
  redrawFrame = requestAnimationFrame(() => {
    drawnWidth = window.innerWidth;
    if (lastTrace) renderTrace(lastTrace);
    if (mcLast) renderMonteCarlo(mcLast);
    if (trLast) renderTraining(trLast);
    if (th.phase) renderPhase();
    if (th.result) renderDecay(th.result);
    updateScrollCues();
    window.gradtraceRedraws = (window.gradtraceRedraws || 0) + 1;
  });
}
window.addEventListener("resize", () => { if (window.innerWidth !== drawnWidth) redrawCharts(); else updateScrollCues(); });

// ---- controls ---------------------------------------------------------------------------------
function fillSelects() {
  for (const id of ["activation", "output_activation"]) {
    const s = $(id);
    for (const a of ACTIVATIONS) s.append(new Option(a, a));
  }
}
function readNumber(input, fallback) {
  const v = input.valueAsNumber;
  return Number.isFinite(v) ? v : fallback;
}
// a typed value that is not a finite number: named beside its control and in the banner; the
// page keeps the last valid value (and marks what it computed from it stale) until it is fixed
function checkTyped(input, label, source = `input:${input.id}`) {
  const ok = Number.isFinite(input.valueAsNumber);
  // (the browser empties a number box whose text it cannot read, 1e999 included: badInput)
  const why = input.validity.badInput ? "what is typed is not a finite number"
    : input.value === "" ? "empty" : `"${input.value}" is not a finite number`;
  setError(source, ok ? "" : `${label}: ${why}; type a number such as -0.5 or 1e-3`, [input.id]);
  return ok;
}
function buildRows(container, prefix, values, onChange) {
  clear(container);
  for (const k of [...errorSources.keys()]) if (k.startsWith(`input:${prefix}-`)) errorSources.delete(k);
  values.forEach((v, k) => {
    const row = document.createElement("div");
    row.className = "wrow";
    const name = document.createElement("label");
    name.innerHTML = `${prefix}<sub>${k + 1}</sub>`;
    name.htmlFor = `${prefix}-${k + 1}`;
    const range = document.createElement("input");
    Object.assign(range, { type: "range", min: -6, max: 6, step: 0.01, value: v });
    range.id = `${prefix}-range-${k + 1}`;
    range.setAttribute("aria-label", `${prefix}${k + 1} slider`);
    const num = document.createElement("input");
    Object.assign(num, { type: "number", step: "any", value: v });
    num.id = `${prefix}-${k + 1}`;
    num.setAttribute("aria-label", `${prefix}${k + 1}`);
    range.addEventListener("input", () => {
      num.value = range.value;
      setError(`input:${num.id}`, "");
      onChange(k, Number(range.value));
    });
    num.addEventListener("input", () => {
      if (checkTyped(num, `${prefix}${k + 1}`)) { range.value = String(num.valueAsNumber); onChange(k, num.valueAsNumber); }
    });
    row.append(name, range, num);
    container.append(row);
  });
  renderErrors();
}
function rebuildWeightRows() {
  buildRows($("weights"), "w", state.weights, (k, v) => { state.weights[k] = v; update(); });
  buildRows($("bias-list"), "b", state.bias, (k, v) => { state.bias[k] = v; update(); });
  $("bias-set").hidden = !state.biases;
}
function setDepth(d) {
  d = Math.max(1, Math.min(MAX_DEPTH, Math.round(d)));
  state.depth = d;
  while (state.weights.length < d) state.weights.push(1);
  while (state.bias.length < d) state.bias.push(0);
  state.weights.length = d;
  state.bias.length = d;
  if ($("depth").valueAsNumber !== d) $("depth").value = d;
  setError("input:depth", "");
  rebuildWeightRows();
}
function syncForm() {
  for (const id of ["activation", "output_activation", "loss"]) $(id).value = state[id];
  $("biases").checked = state.biases;
  $("residual").checked = state.residual;
  $("x").value = state.x;
  $("target").value = state.target;
  for (const id of ["x", "target"]) setError(`input:${id}`, "");
  setDepth(state.weights.length);
}
function applyPreset(name) {
  const p = presets[name];
  if (!p) return;
  Object.assign(state, {
    activation: p.activation, output_activation: p.output_activation, loss: p.loss,
    x: p.x, target: p.target, weights: p.weights.slice(), bias: p.weights.map(() => 0),
    biases: false, residual: false,
  });
  syncForm();
  $("tr-scale").value = 1;
  update();
}
function wireControls() {
  $("controls").addEventListener("submit", (e) => e.preventDefault());
  $("full-values").addEventListener("change", () => {
    showFull = $("full-values").checked;
    if (lastTrace) renderTrace(lastTrace);
    updateScrollCues();
  });
  $("depth").addEventListener("input", () => {
    const d = $("depth").valueAsNumber;
    if (Number.isFinite(d) && d >= 1 && d <= MAX_DEPTH && d === Math.round(d)) { setDepth(d); update(); }
    else setError("input:depth", `depth: "${$("depth").value || "(empty)"}" is not a whole number from 1 to ${MAX_DEPTH}`, ["depth"]);
  });
  for (const id of ["activation", "output_activation", "loss"]) {
    $(id).addEventListener("change", () => { state[id] = $(id).value; update(); });
  }
  for (const id of ["biases", "residual"]) {
    $(id).addEventListener("change", () => { state[id] = $(id).checked; rebuildWeightRows(); update(); });
  }
  const names = { x: "input x", target: "target ŷ" };
  for (const id of ["x", "target"]) {
    $(id).addEventListener("input", () => { if (checkTyped($(id), names[id])) { state[id] = $(id).valueAsNumber; update(); } });
  }
  $("randomize").addEventListener("click", () => {
    // Box-Muller from the browser's generator: only a starting point, not an experiment
    state.weights = state.weights.map(() => {
      const u = 1 - Math.random(), v = Math.random();
      return Number((Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v)).toFixed(3));
    });
    rebuildWeightRows();
    update();
  });
  document.querySelectorAll("[data-preset]").forEach((b) =>
    b.addEventListener("click", () => applyPreset(b.dataset.preset)));
  $("mc-run").addEventListener("click", runMonteCarlo);
  $("tr-run").addEventListener("click", runTraining);
  for (const panel of ["mc-panel", "tr-panel"]) {
    $(panel).addEventListener("input", refreshStale);
    $(panel).addEventListener("change", refreshStale);
  }
  const strip = $("strip");
  strip.addEventListener("keydown", (e) => {
    const L = lastTrace ? lastTrace.layers.length : 0;
    const step = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 }[e.key];
    let k = selectedLayer;
    if (step) k += step; else if (e.key === "Home") k = 1; else if (e.key === "End") k = L; else return;
    e.preventDefault();
    selectLayer(Math.max(1, Math.min(L, k)));
  });
  strip.addEventListener("click", (e) => { const c = e.target.closest("[data-layer]"); if (c) selectLayer(Number(c.dataset.layer)); });
  strip.addEventListener("mouseover", (e) => { const c = e.target.closest("[data-layer]"); if (c) selectLayer(Number(c.dataset.layer)); });
}

// ---- the live trace ---------------------------------------------------------------------------
function specBody() {
  return {
    activation: state.activation, output_activation: state.output_activation,
    loss: state.loss, residual: state.residual,
  };
}
async function update() {
  const started = performance.now();
  const seq = ++traceSeq;
  if (traceAbort) traceAbort.abort();
  traceAbort = new AbortController();
  refreshStale();
  const body = {
    ...specBody(), weights: state.weights.slice(0, state.depth), x: state.x, target: state.target,
  };
  if (state.biases) body.biases = state.bias.slice(0, state.depth);
  let trace;
  try {
    [trace] = await Promise.all([api("/api/trace", body, traceAbort.signal), ensureCurve()]);
  } catch (e) {
    if (e.name === "AbortError") return;
    failed("trace", e, update, (e.locs || []).flatMap((l) => idsFor(l)));
    return;
  }
  if (seq !== traceSeq) return;
  setError("trace", "");
  setError("general", "");
  lastTrace = trace;
  renderTrace(trace);
  markTraceStale();
  updateScrollCues();
  const ms = performance.now() - started;
  window.gradtraceLastUpdateMs = ms;
  window.gradtraceUpdates = (window.gradtraceUpdates || 0) + 1;
  $("summary").dataset.updateMs = ms.toFixed(1);
  updateFormulas();
}
function curveActivation() {
  return state.depth > 1 ? state.activation : state.output_activation;
}
async function ensureCurve() {
  const name = curveActivation();
  if (!curves[name]) curves[name] = await api(`/api/activation/${name}?lo=-8&hi=8&points=401`);
  return curves[name];
}
function renderTrace(t) {
  const L = t.layers.length;
  const warn = t.warnings ? ` <span class="warn">${t.warnings.join("; ")}</span>` : "";
  const ratio = Math.abs(t.layers[0].grad_weight / t.layers[L - 1].grad_weight);
  $("summary").innerHTML =
    `loss L = <b data-field="loss" data-value="${t.loss}" title="${full(t.loss)}">${fmt(t.loss)}</b>, prediction y = ` +
    `<b data-field="prediction" data-value="${t.prediction}" title="${full(t.prediction)}">${fmt(t.prediction)}</b>, ` +
    `∂L/∂y = <span title="${full(t.dloss_dprediction)}">${fmt(t.dloss_dprediction)}</span>; ratio |∂L/∂w<sub>1</sub>| / |∂L/∂w<sub>${L}</sub>| = ` +
    `${fmt(ratio)}${warn}`;
  renderStrip(t);
  renderChain(t);
  renderTable(t);
  renderBars(t);
  renderCurve(t);
}

// the strip: one cell per layer, coloured by log10|delta_k|, legible at any depth; the selected
// layer's numbers below it (click, hover, or arrow keys once the strip has focus)
let selectedLayer = 1;
function renderStrip(t) {
  const L = t.layers.length;
  const logs = t.layers.map((ly) => (ly.delta ? Math.log10(Math.abs(ly.delta)) : NaN));
  const f = logs.filter(Number.isFinite);
  const lo = f.length ? Math.min(...f) : 0, hi = f.length ? Math.max(...f) : 0;
  const strip = $("strip");
  clear(strip);
  strip.style.gridTemplateColumns = `repeat(${L}, minmax(0, 1fr))`;
  $("strip-ticks").style.gridTemplateColumns = `repeat(${L}, minmax(0, 1fr))`;
  clear($("strip-ticks"));
  const every = L <= 12 ? 1 : L <= 30 ? 5 : 10;
  t.layers.forEach((ly, k) => {
    const c = document.createElement("div");
    c.id = `strip-${k + 1}`;
    c.dataset.layer = k + 1;
    c.setAttribute("role", "option");
    c.setAttribute("aria-selected", "false");
    c.setAttribute("aria-label", `layer ${k + 1}: δ = ${full(ly.delta)}, ∂L/∂w = ${full(ly.grad_weight)}`);
    c.title = `layer ${k + 1}\nδ = ${full(ly.delta)}\n∂L/∂w = ${full(ly.grad_weight)}`;
    const v = logs[k];
    const frac = Number.isFinite(v) ? (hi > lo ? (v - lo) / (hi - lo) : 1) : null;
    c.style.background = frac === null ? "#000" : colour(frac);
    c.style.color = inkOn(frac);  // the layer's number, legible on its colour (4.5:1 at least)
    if (L <= 12) c.textContent = String(k + 1);
    strip.append(c);
    const tick = document.createElement("span");
    tick.textContent = (k + 1 === 1 || (k + 1) % every === 0) && L > 12 ? String(k + 1) : "";
    $("strip-ticks").append(tick);
  });
  const bar = $("strip-scale");
  bar.innerHTML = `<span>colour: log<sub>10</sub>|δ<sub>k</sub>|</span><span>${f.length ? lo.toFixed(1) : "—"}</span>` +
    `<i></i><span>${f.length ? hi.toFixed(1) : "—"}</span>` +
    `<span>(black: δ = 0); ${L} layer${L > 1 ? "s" : ""}, input on the left, loss on the right</span>`;
  bar.querySelector("i").style.background = colourBar();  // (CSSOM: no style attribute, for the CSP)
  selectLayer(Math.min(selectedLayer, L));
}
function selectLayer(k) {
  const t = lastTrace;
  if (!t || k < 1 || k > t.layers.length) return;
  selectedLayer = k;
  const strip = $("strip");
  strip.querySelectorAll("[aria-selected=true]").forEach((c) => c.setAttribute("aria-selected", "false"));
  const cell = $(`strip-${k}`);
  if (cell) { cell.setAttribute("aria-selected", "true"); strip.setAttribute("aria-activedescendant", cell.id); }
  const ly = t.layers[k - 1];
  const sub = (s) => `${s}<sub>${k}</sub>`;
  const rows = [[sub("w"), ly.weight], [sub("z"), ly.z], [sub("a"), ly.a],
    [`φ′(${sub("z")})`, ly.activation_derivative], [sub("δ"), ly.delta], [`∂L/∂${sub("w")}`, ly.grad_weight],
    [`${sub("w")} φ′(z<sub>${k - 1}</sub>)`, ly.chain_factor]];
  if ("grad_bias" in ly) rows.push([`∂L/∂${sub("b")}`, ly.grad_bias]);
  $("layer-detail").innerHTML = `<b>layer ${k}${k === t.layers.length ? " (output)" : ""}</b>` +
    "<dl>" + rows.filter(([, v]) => v !== undefined && !(v === null && k === 1)).map(([n, v]) =>
      `<div><dt>${n}</dt><dd title="${full(v)}">${fmt(v)}</dd></div>`).join("") + "</dl>";
}

const NODE_DIAGRAM_MAX = 6;  // deeper chains: the strip alone (a node per layer would not fit)
const CHAR_PX = 6.8;  // about the width of one character of 11 px text
// the chain node by node, its text at 11 px: left to right in a box at least VERTICAL_BELOW
// wide (scrolling sideways, with a cue, when it is longer), top to bottom in a narrower one
const VERTICAL_BELOW = 560;
function renderChain(t) {
  const box = $("chain");
  clear(box);
  const L = t.layers.length;
  if (L > NODE_DIAGRAM_MAX) return;
  const avail = box.clientWidth;
  const svg = el("svg", { role: "img", "aria-label": "the chain node by node: each layer's z, a, delta and gradient, and each edge's weight and chain factor" });
  box.append(svg);
  // text widths as drawn (11 px; titles bold), from a probe: boxes and edges fit their text
  const probe = el("g", { class: "node" }), probeText = el("text");
  probe.append(probeText);
  svg.append(probe);
  const width = (t, bold = false) => {
    probeText.textContent = t;
    probeText.setAttribute("font-weight", bold ? 600 : 400);
    return probeText.getComputedTextLength() || CHAR_PX * t.length;
  };
  const values = (ly) => [`z = ${fmt(ly.z)}`, `a = ${fmt(ly.a)}`, `δ = ${fmt(ly.delta)}`, `∂L/∂w = ${fmt(ly.grad_weight)}`];
  const nodes = [{ title: "input", lines: [`x = ${fmt(state.x)}`], cls: "input" }];
  t.layers.forEach((ly, k) => nodes.push({
    title: k + 1 === L ? `output (layer ${k + 1})` : `layer ${k + 1}`, lines: values(ly), cls: "layer",
    edge: { w: `w${k + 1} = ${fmt(ly.weight)}`, factor: ly.chain_factor },
  }));
  nodes.push({ title: "loss", lines: [`L = ${fmt(t.loss)}`, `y = ${fmt(t.prediction)}`, `ŷ = ${fmt(state.target)}`], cls: "loss", edge: {} });
  let factorText = (f) => `× ${fmt(f)}`;  // the edge's chain factor w_k φ′(z_(k−1)), in orange
  const hasFactor = (e) => e && e.factor !== null && e.factor !== undefined;
  const drawNode = (n, x, y, w, h, lines) => {
    const g = el("g", { class: `node ${n.cls}` });
    g.append(el("rect", { x, y, width: w, height: h, rx: 10, fill: "#f5f8ff", stroke: "#2f5bd3" }));
    g.append(el("text", { x: x + w / 2, y: y + 16, "text-anchor": "middle", "font-weight": 600 }, n.title));
    lines.forEach((s, j) => g.append(el("text", { x: x + w / 2, y: y + 34 + 16 * j, "text-anchor": "middle" }, s)));
    svg.append(g);
  };
  const factorLabel = (g, e, attrs) => {
    if (!hasFactor(e)) return;
    const f = el("text", { ...attrs, fill: "#b54708", class: "factor", "data-value": e.factor }, factorText(e.factor));
    f.append(el("title", {}, `chain factor w·φ′ = ${full(e.factor)}`));
    g.append(f);
  };
  if (avail >= VERTICAL_BELOW || avail === 0) {
    // left to right: each box as wide as its longest line, each edge as long as its labels
    const widest = (xs) => Math.max(...xs.map((t) => width(t)));
    const bws = nodes.map((n) => Math.ceil(Math.max(widest(n.lines), width(n.title, true)) + 18));
    const gaps = nodes.map((n) => (!n.edge ? 0 : !n.edge.w ? 36
      : Math.ceil(widest([n.edge.w, hasFactor(n.edge) ? factorText(n.edge.factor) : ""]) + 18)));
    probe.remove();
    const w = 16 + bws.reduce((a, b) => a + b, 0) + gaps.reduce((a, b) => a + b, 0), h = 112, top = 12;
    svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
    svg.style.minWidth = `${w}px`;  // never shrunk: 11 px text stays 11 px (CSSOM: the CSP allows it)
    svg.style.maxWidth = `${w}px`;
    let x = 8;
    nodes.forEach((n, i) => {
      if (n.edge) {
        const g = el("g", { class: "edge" }), cx = x + gaps[i] / 2;
        g.append(el("line", { x1: x, y1: top + 44, x2: x + gaps[i], y2: top + 44, stroke: "#667085", "stroke-width": 2 }));
        if (n.edge.w) g.append(el("text", { x: cx, y: top + 38, "text-anchor": "middle" }, n.edge.w));
        factorLabel(g, n.edge, { x: cx, y: top + 60, "text-anchor": "middle" });
        svg.append(g);
        x += gaps[i];
      }
      drawNode(n, x, top, bws[i], 88, n.lines);
      x += bws[i];
    });
  } else {
    // top to bottom, as wide as the box: two values to a line where they fit
    factorText = (f) => `× w·φ′ = ${fmt(f)}`;
    const w = Math.max(240, avail), bw = w - 16, fits = (s) => width(s) <= bw - 14;
    let y = 6;
    const parts = [];
    for (const n of nodes) {
      const lines = [];
      for (let j = 0; j < n.lines.length; j += 2) {
        const pair = n.lines.slice(j, j + 2).join("  ·  ");
        if (fits(pair)) lines.push(pair); else lines.push(...n.lines.slice(j, j + 2));
      }
      if (!fits(n.title)) n.title = n.title.replace(/ \(layer \d+\)$/, "");
      if (n.edge) { parts.push({ edge: n.edge, y }); y += 44; }
      parts.push({ n, y, lines });
      y += 24 + 16 * lines.length;
    }
    probe.remove();
    svg.setAttribute("viewBox", `0 0 ${w} ${y + 4}`);
    svg.style.maxWidth = `${w}px`;
    for (const p of parts) {
      if (p.edge) {
        const g = el("g", { class: "edge" });
        g.append(el("line", { x1: 30, y1: p.y, x2: 30, y2: p.y + 44, stroke: "#667085", "stroke-width": 2 }));
        if (p.edge.w) g.append(el("text", { x: 40, y: p.y + 19 }, p.edge.w));
        factorLabel(g, p.edge, { x: 40, y: p.y + 35 });  // (SVG collapses spaces: "·" parts pairs)
        svg.append(g);
      } else {
        drawNode(p.n, 8, p.y, bw, 24 + 16 * p.lines.length - 4, p.lines);
      }
    }
  }
}
// the backward table; below 560 px each layer is a card (CSS: table.stack), its cells labelled
const BACKWARD_COLS = [["layer", "k", "k"], ["weight", "w<sub>k</sub>", "w"], ["z", "z<sub>k</sub>", "z"],
  ["a", "a<sub>k</sub>", "a"], ["activation_derivative", "φ′(z<sub>k</sub>)", "φ′(z)"],
  ["delta", "δ<sub>k</sub> = ∂L/∂z<sub>k</sub>", "δ"], ["grad_weight", "∂L/∂w<sub>k</sub>", "∂L/∂w"]];
function renderTable(t) {
  const hasB = t.layers.length && "grad_bias" in t.layers[0];
  const cols = BACKWARD_COLS.concat(hasB ? [["grad_bias", "∂L/∂b<sub>k</sub>", "∂L/∂b"]] : []);
  let html = "<thead><tr>" + cols.map((c) => `<th scope="col">${c[1]}</th>`).join("") + "</tr></thead><tbody>";
  for (const ly of t.layers) {
    html += "<tr>" + cols.map(([f, , label]) => f === "layer" ? `<th scope="row" data-label="layer">${ly.layer}</th>`
      : `<td class="num" data-field="${f}" data-label="${label}" data-layer="${ly.layer}" data-value="${ly[f]}" title="${full(ly[f])}">${fmt(ly[f])}</td>`).join("") + "</tr>";
  }
  $("backward").innerHTML = html + "</tbody>";
}
// ---- charts: SVG whose width in units is its box's width in CSS px (at most its natural width:
// wider boxes scale it up, never down), so 11-unit text is drawn at 11 px or more on any screen;
// redrawn when the window's width changes ---------------------------------------------------------
function chartWidth(svg, natural = 480) {
  const box = svg.parentElement ? svg.parentElement.clientWidth : 0;
  return box > 0 ? Math.max(260, Math.min(natural, Math.floor(box))) : natural;
}
function axes(svg, x0, y0, x1, y1, yTicks, yLabel, xLabel) {
  svg.append(el("line", { x1: x0, y1: y1, x2: x1, y2: y1, stroke: "#667085" }));
  svg.append(el("line", { x1: x0, y1: y0, x2: x0, y2: y1, stroke: "#667085" }));
  for (const [y, label] of yTicks) {
    svg.append(el("line", { x1: x0 - 4, y1: y, x2: x1, y2: y, stroke: "#eaecf0" }));
    svg.append(el("text", { x: x0 - 6, y: y + 4, "text-anchor": "end", class: "small" }, label));
  }
  svg.append(el("text", { x: 13, y: (y0 + y1) / 2, transform: `rotate(-90 13 ${(y0 + y1) / 2})`, "text-anchor": "middle", class: "small" }, yLabel));
  svg.append(el("text", { x: (x0 + x1) / 2, y: y1 + 32, "text-anchor": "middle", class: "small" }, xLabel));
}
function xTicks(svg, values, X, y1, label = String) {
  for (const v of values) {
    svg.append(el("line", { x1: X(v), y1: y1, x2: X(v), y2: y1 + 4, stroke: "#667085" }));
    svg.append(el("text", { x: X(v), y: y1 + 16, "text-anchor": "middle", class: "small" }, label(v)));
  }
}
// every `every`-th of n labels, so that labels `chars` wide stay apart on `room` units
function labelEvery(n, room, chars = 2) {
  return Math.max(1, Math.ceil(n / Math.max(1, Math.floor(room / (CHAR_PX * chars + 8)))));
}
function logRange(vals) {
  const f = vals.filter((v) => Number.isFinite(v));
  if (!f.length) return [-1, 1];
  let lo = Math.floor(Math.min(...f)) , hi = Math.ceil(Math.max(...f));
  if (hi - lo < 2) { lo -= 1; hi += 1; }
  return [lo, hi];
}
function ticks(lo, hi, y) {
  const step = Math.max(1, Math.ceil((hi - lo) / 6));
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi; v += step) out.push([y(v), `1e${v}`]);
  return out;
}
// bars on a log axis rise from a floor: the whole decade below the smallest value drawn, said in
// the note under the chart; a bar's height is the number of decades its value lies above it
function barFloor(logs) {
  const f = logs.filter(Number.isFinite);
  if (!f.length) return [-1, 1];
  const min = Math.min(...f), lo = Math.floor(min) === min ? min - 1 : Math.floor(min);
  return [lo, Math.max(lo + 2, Math.ceil(Math.max(...f)))];
}
function renderBars(t) {
  const svg = $("bars");
  clear(svg);
  const W = chartWidth(svg), L = t.layers.length;
  svg.setAttribute("viewBox", `0 0 ${W} 260`);
  const logs = t.layers.map((ly) => ly.grad_weight ? Math.log10(Math.abs(ly.grad_weight)) : NaN);
  const [lo, hi] = barFloor(logs);
  const x0 = 62, x1 = W - 10, y0 = 12, y1 = 220;
  const y = (v) => y1 - (v - lo) / (hi - lo) * (y1 - y0);
  axes(svg, x0, y0, x1, y1, ticks(lo, hi, y), "|∂L/∂w_k| (log10 axis)", "layer k");
  const bw = (x1 - x0) / L, every = labelEvery(L, x1 - x0);
  logs.forEach((v, k) => {
    const bx = x0 + k * bw + bw * 0.15;
    if (Number.isFinite(v)) {
      const r = el("rect", { x: bx, y: y(v), width: bw * 0.7, height: y1 - y(v), fill: "#2f5bd3",
        "data-layer": k + 1, "data-value": t.layers[k].grad_weight });
      r.append(el("title", {}, `|∂L/∂w${k + 1}| = ${full(Math.abs(t.layers[k].grad_weight))}`));
      svg.append(r);
    } else {
      svg.append(el("text", { x: bx, y: y1 - 4, class: "small", fill: "#b42318" }, "0"));
    }
    if (k === 0 || (k + 1) % every === 0) {
      svg.append(el("text", { x: bx + bw * 0.35, y: y1 + 16, "text-anchor": "middle", class: "small" }, String(k + 1)));
    }
  });
  const f = t.layers.map((ly, k) => [Math.abs(ly.grad_weight), k + 1]).filter(([v]) => v > 0);
  const [smallest, at] = f.length ? f.reduce((m, p) => (p[0] < m[0] ? p : m)) : [null, 0];
  $("bars-note").textContent = smallest === null ? "Every gradient is zero: no bar to draw."
    : `The bars rise from 1e${lo}, the whole decade below the smallest gradient drawn ` +
      `(|∂L/∂w${at}| = ${fmt(smallest)}): a bar's height is how many decades its |∂L/∂w_k| lies above 1e${lo}.`;
  $("bars-note").dataset.floor = lo;
}
const CURVE_NOTES = {
  sigmoid: "s′ is at most 1/4 (at z = 0): each sigmoid layer shrinks δ at least 4-fold unless |w| > 4.",
  tanh: "tanh′ is at most 1 (at z = 0) and falls like 4e^(−2|z|): a saturated unit passes almost nothing.",
  relu: "relu′ is 1 for z > 0 and 0 otherwise: a unit with z ≤ 0 passes no gradient at all.",
  leaky_relu: "leaky relu′ is 1 for z > 0 and 0.01 otherwise: small, but never zero.",
  softsign: "softsign′ = 1/(1 + |z|)²: at most 1, and it decays like 1/z², not exponentially.",
  identity: "identity′ = 1: the gradient is the product of the weights alone.",
};
// labels placed left to right, each moved up until it overlaps no label placed before it
function placeLabels(svg, items, top, right) {
  const placed = [];
  for (const it of items.sort((a, b) => a.x - b.x)) {
    const w = CHAR_PX * it.text.length + 2, h = 12;
    let x = Math.min(it.x + 5, right - w), y = it.y - 5;
    const hits = () => placed.some((p) => x < p.x + p.w && p.x < x + w && y - h < p.y && p.y - h < y);
    while (hits() && y - h > top) y -= h;
    if (hits()) {  // no room above: beside the last one
      x = Math.max(...placed.map((p) => p.x + p.w)) + 3;
      if (x + w > right) x = Math.min(...placed.map((p) => p.x)) - w - 3;
      y = it.y - 5;
    }
    placed.push({ x, y, w });
    if (Math.abs(y - (it.y - 5)) > 1 || Math.abs(x - (it.x + 5)) > 1) {
      svg.append(el("line", { x1: it.x, y1: it.y, x2: x + (x < it.x ? w : 0), y2: y - 3, stroke: "#98a2b3", "stroke-width": 0.8 }));
    }
    svg.append(el("text", { x, y, class: "small zlabel" }, it.text));
  }
}
function niceStep(span, n) {
  const raw = span / n, p = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 2.5, 5, 10].map((m) => m * p).find((s) => s >= raw);
}
function renderCurve(t) {
  $("curve-note").textContent = `${CURVE_NOTES[curveActivation()] || ""} Red marks: each layer's z_k; ` +
    "an orange mark with an arrow: a z_k outside −8 to 8.";
  const svg = $("curve");
  clear(svg);
  const c = curves[curveActivation()];
  if (!c) return;
  const W = chartWidth(svg);
  svg.setAttribute("viewBox", `0 0 ${W} 260`);
  const x0 = 52, x1 = W - 10, y0 = 12, y1 = 220;
  const dmax = Math.max(...c.derivative);  // the API's largest value on the grid (0.25: sigmoid)
  const step = niceStep(dmax || 1, 5);
  const ymax = (Math.floor((dmax || 1) / step) + 1) * step;
  const X = (z) => x0 + (z + 8) / 16 * (x1 - x0);
  const Y = (v) => y1 - v / ymax * (y1 - y0);
  const yt = [];
  for (let v = 0; v <= ymax + 1e-12; v += step) yt.push([Y(v), String(Number(v.toPrecision(6)))]);
  axes(svg, x0, y0, x1, y1, yt, `${curveActivation()}′(z)`, "z (marks: each layer's z_k)");
  // the maximum, marked: it bounds how much one layer can pass back
  svg.append(el("line", { x1: x0, y1: Y(dmax), x2: x1, y2: Y(dmax), stroke: "#b54708", "stroke-dasharray": "4 3" }));
  svg.append(el("text", { x: x1, y: Y(dmax) - 5, "text-anchor": "end", class: "small max-label", fill: "#b54708", "data-value": dmax },
    `max ${short(dmax)}`));
  let d = "";
  c.z.forEach((z, i) => { d += `${i ? "L" : "M"}${X(z).toFixed(1)},${Y(c.derivative[i]).toFixed(1)}`; });
  svg.append(el("path", { d, fill: "none", stroke: "#2f5bd3", "stroke-width": 2, class: "curve" }));
  xTicks(svg, [-8, -4, 0, 4, 8], X, y1);
  const L = t.layers.length;
  const labels = [];
  t.layers.forEach((ly, k) => {
    if (L > 1 && k === L - 1 && state.output_activation !== state.activation) return;
    if (ly.z === null) return;
    const inside = ly.z >= -8 && ly.z <= 8;
    const zx = X(Math.max(-8, Math.min(8, ly.z)));
    const vy = inside ? Y(ly.activation_derivative) : y1 - 10;
    const m = el("circle", { cx: zx, cy: vy, r: inside ? 4 : 3.5, fill: inside ? "#d92d20" : "#b54708", class: "zmark" });
    m.append(el("title", {}, `z${k + 1} = ${full(ly.z)}`));
    svg.append(m);
    if (L <= 8 || k === 0 || k === L - 2 || k === L - 1) {  // deep chains: the first and last layers
      labels.push({ x: zx, y: vy, text: `${inside ? "" : (ly.z < 0 ? "←" : "→")}z${k + 1}` });
    }
  });
  placeLabels(svg, labels, y0 + 10, x1);
}

// ---- formulas ---------------------------------------------------------------------------------
async function updateFormulas() {
  // the guided lesson shows the formulas in one step: none are derived while they are hidden
  if (document.body.dataset.mode === "lesson" && !$("formulas-panel").classList.contains("in-step")) return;
  const body = { ...specBody(), depth: state.depth, biases: state.biases, closed_form: false };
  const key = JSON.stringify(body);
  if (key === deriveKey) return;
  deriveKey = key;
  const box = $("formulas");
  if (state.residual) {
    box.innerHTML = "<p class='muted'>With skip connections a gradient is a sum over paths, not one chain product; no single formula is shown.</p>";
    setStale("formulas", "");
    return;
  }
  if (box.firstChild) setStale("formulas", "computed for an older network; the new formulas are on their way.");
  try {
    const d = await api("/api/derive", body);
    if (key !== deriveKey) return;
    setError("formulas", "");
    box.innerHTML = Object.values(d.mathml_product || d.mathml).join("");
    setStale("formulas", "");
    updateScrollCues();
  } catch (e) {
    if (key !== deriveKey) return;
    deriveKey = "";
    if (e instanceof BusyError) {
      failed("formulas", e, updateFormulas, [], "Formulas: ");
      return;
    }
    box.textContent = e.message;
    setStale("formulas", "");
  }
}

// ---- Monte Carlo ------------------------------------------------------------------------------
function typed(id) {  // a typed number, or null (the API then names the field)
  const v = $(id).valueAsNumber;
  return Number.isFinite(v) ? v : null;
}
function mcBody() {
  return {
    ...specBody(), depth: state.depth, biases: state.biases, init: $("mc-init").value,
    std: typed("mc-std"), samples: Number($("mc-samples").value),
    seed: typed("mc-seed"), x: state.x, target: state.target,
  };
}
async function runMonteCarlo() {
  const body = mcBody();
  $("mc-status").textContent = "running…";
  const t0 = performance.now();
  const meta = {};
  try {
    const r = await api("/api/montecarlo", body, undefined, meta);
    // the run's own time, measured in the worker (Server-Timing: job;dur=ms), not queue wait
    const dur = /job;dur=([\d.]+)/.exec(meta.headers.get("server-timing") || "");
    const s = dur ? Number(dur[1]) / 1000 : (performance.now() - t0) / 1000;
    $("mc-status").textContent = `${r.samples.toLocaleString()} samples in ${s.toFixed(2)} s`;
    setError("mc", "");
    shownFor.mc = JSON.stringify(body);
    renderMonteCarlo(r);
    refreshStale();
    updateScrollCues();
  } catch (e) {
    $("mc-status").textContent = "";
    failed("mc", e, runMonteCarlo, (e.locs || []).flatMap((l) => idsFor(l, MC_IDS)), "Monte Carlo: ");
  }
}
let mcLast = null;  // the last Monte Carlo answer, redrawn when the window's width changes
function renderMonteCarlo(r) {
  mcLast = r;
  const svg = $("mc-plot");
  clear(svg);
  const W = chartWidth(svg, 960);
  svg.setAttribute("viewBox", `0 0 ${W} 280`);
  const q = r.layers.map((l) => l.abs_grad_quantiles);
  const lg = (v) => (v ? Math.log10(v) : NaN);
  const [lo, hi] = logRange(q.flatMap((x) => [lg(x.p05), lg(x.p95)]));
  const x0 = 62, x1 = W - 10, y0 = 12, y1 = 240;
  const Y = (v) => y1 - (Math.max(lo, v) - lo) / (hi - lo) * (y1 - y0);
  axes(svg, x0, y0, x1, y1, ticks(lo, hi, Y), "|∂L/∂w_k| (log10)", "layer k");
  const bw = (x1 - x0) / q.length, every = labelEvery(q.length, x1 - x0);
  q.forEach((s, k) => {
    const cx = x0 + (k + 0.5) * bw, half = Math.min(18, bw * 0.3);
    const [a, b, m, c, d] = [s.p05, s.p25, s.p50, s.p75, s.p95].map(lg);
    svg.append(el("line", { x1: cx, x2: cx, y1: Y(a), y2: Y(d), stroke: "#475467" }));
    svg.append(el("rect", { x: cx - half, y: Y(c), width: 2 * half, height: Math.max(1, Y(b) - Y(c)), fill: "#c7d7fe", stroke: "#2f5bd3" }));
    svg.append(el("line", { x1: cx - half, x2: cx + half, y1: Y(m), y2: Y(m), stroke: "#d92d20", "stroke-width": 2 }));
    if (k === 0 || (k + 1) % every === 0) {
      svg.append(el("text", { x: cx, y: y1 + 16, "text-anchor": "middle", class: "small" }, String(k + 1)));
    }
  });
  const num = (v, label) => `<td class="num" data-label="${label}" title="${full(v)}">${fmt(v)}</td>`;
  const pct = (v, label) => `<td class="num" data-label="${label}" title="${full(v)}">${(100 * v).toFixed(2)} %</td>`;
  let html = "<table class='stack'><thead><tr><th scope='col'>k</th><th scope='col'>median |g|</th><th scope='col'>mean log10|g|</th>" +
    "<th scope='col'>&lt; 1e-3</th><th scope='col'>&lt; 1e-6</th><th scope='col'>&gt; 1e2</th></tr></thead><tbody>";
  for (const l of r.layers) {
    html += `<tr><th scope="row" data-label="layer">${l.layer}</th>${num(l.abs_grad_quantiles.p50, "median |g|")}` +
      `${num(l.mean_log10_abs_grad, "mean log10|g|")}${pct(l.fraction_below["1e-3"], "< 1e-3")}` +
      `${pct(l.fraction_below["1e-6"], "< 1e-6")}${pct(l.fraction_above["1e2"], "> 1e2")}</tr>`;
  }
  $("mc-table").innerHTML = html + "</tbody></table>";
}

// ---- training ---------------------------------------------------------------------------------
function trBody() {
  const body = {
    ...specBody(), weights: state.weights.slice(0, state.depth), x: state.x, target: state.target,
    learning_rate: typed("tr-lr"), steps: typed("tr-steps"), target_scale: typed("tr-scale"),
  };
  if ($("tr-clip-on").checked) body.clip_norm = typed("tr-clip");
  return body;
}
async function runTraining() {
  const body = trBody();
  $("tr-status").textContent = "training…";
  try {
    const h = await api("/api/train", body);
    $("tr-status").textContent = "";
    setError("tr", "");
    shownFor.tr = JSON.stringify(body);
    renderTraining(h);
    refreshStale();
  } catch (e) {
    $("tr-status").textContent = "";
    failed("tr", e, runTraining, (e.locs || []).flatMap((l) => idsFor(l, TR_IDS)), "Training: ");
  }
}
let trLast = null;  // the last training answer, redrawn when the window's width changes
function renderTraining(h) {
  trLast = h;
  const message = h.message.startsWith(`${h.outcome}:`) ? h.message.slice(h.outcome.length + 1).trim() : h.message;
  $("tr-message").innerHTML = `<b>${h.outcome}</b>: ${message}` +
    (h.target_scale !== 1 ? ` (trained on target / ${fmt(h.target_scale)})` : "") +
    (h.clip_norm ? ` (gradient norm clipped at ${fmt(h.clip_norm)})` : "");
  const svg = $("tr-loss");
  clear(svg);
  const W = chartWidth(svg);
  svg.setAttribute("viewBox", `0 0 ${W} 260`);
  const steps = h.loss_curve.step, loss = h.loss_curve.loss.map((v) => (v === null ? NaN : v));
  const logs = loss.map((v) => (v > 0 ? Math.log10(v) : NaN));
  const [lo, hi] = logRange(logs);
  const x0 = 62, x1 = W - 14, y0 = 12, y1 = 220;
  const smax = Math.max(1, steps[steps.length - 1]);
  const X = (s) => x0 + s / smax * (x1 - x0);
  const Y = (v) => y1 - (v - lo) / (hi - lo) * (y1 - y0);
  axes(svg, x0, y0, x1, y1, ticks(lo, hi, Y), "loss (log10 axis)", "step");
  xTicks(svg, [0, Math.round(smax / 2), smax], X, y1);
  let d = "";
  logs.forEach((v, i) => { if (Number.isFinite(v)) d += `${d ? "L" : "M"}${X(steps[i]).toFixed(1)},${Y(v).toFixed(1)}`; });
  svg.append(el("path", { d, fill: "none", stroke: "#2f5bd3", "stroke-width": 2 }));
  renderHeat(h);
}
// heat map: rows = layers, columns = recorded steps, colour = log10|dL/dw_k|; the cells are
// painted on a canvas and placed in an SVG that draws the axes and the colour bar
// cells painted on a canvas, placed in an SVG chart (in a foreignObject: no data: URL, so a
// strict Content-Security-Policy needs no img-src exception), stretched over the plot area
function cellCanvas(svg, cv, x, y, width, height, cls) {
  const fo = el("foreignObject", { x, y, width, height, class: cls });
  cv.className = "cells";
  fo.append(cv);
  svg.append(fo);
}
function renderHeat(h) {
  const svg = $("tr-heat");
  clear(svg);
  const W = chartWidth(svg);
  svg.setAttribute("viewBox", `0 0 ${W} 276`);
  const rows = h.heatmap.log10_abs_grad, cols = h.heatmap.step.length;
  const all = rows.flat().filter((v) => v !== null);
  if (!cols || !all.length) { $("tr-heat-legend").textContent = ""; return; }
  const vmin = Math.min(...all), vmax = Math.max(...all), span = Math.max(1e-9, vmax - vmin);
  const cv = document.createElement("canvas");
  cv.width = cols;
  cv.height = rows.length;
  const ctx = cv.getContext("2d");
  rows.forEach((row, k) => row.forEach((v, j) => {
    ctx.fillStyle = v === null ? "#000" : colour((v - vmin) / span);
    ctx.fillRect(j, k, 1, 1);
  }));
  const x0 = 60, x1 = W - 84, y0 = 12, y1 = 220, L = rows.length, steps = h.heatmap.step;
  cellCanvas(svg, cv, x0, y0, x1 - x0, y1 - y0, "heat-cells");
  svg.append(el("rect", { x: x0, y: y0, width: x1 - x0, height: y1 - y0, fill: "none", stroke: "#667085" }));
  const rowY = (k) => y0 + (k - 0.5) / L * (y1 - y0);  // layer k's row centre (layer 1 on top)
  const every = L <= 10 ? 1 : L <= 30 ? 5 : 10;
  const yt = [];
  for (let k = 1; k <= L; k++) if (k === 1 || k === L || k % every === 0) yt.push(k);
  for (const k of yt) {
    if (k !== 1 && k !== L && Math.abs(rowY(k) - rowY(L)) < 10) continue;
    svg.append(el("line", { x1: x0 - 4, y1: rowY(k), x2: x0, y2: rowY(k), stroke: "#667085" }));
    svg.append(el("text", { x: x0 - 6, y: rowY(k) + 4, "text-anchor": "end", class: "small" }, String(k)));
  }
  svg.append(el("text", { x: 16, y: (y0 + y1) / 2, transform: `rotate(-90 16 ${(y0 + y1) / 2})`,
    "text-anchor": "middle", class: "small heat-axis" }, "layer k"));
  const smax = Math.max(1, steps[cols - 1]);
  const X = (s) => x0 + s / smax * (x1 - x0);
  xTicks(svg, [0, Math.round(smax / 2), smax], X, y1);
  svg.append(el("text", { x: (x0 + x1) / 2, y: y1 + 32, "text-anchor": "middle", class: "small heat-axis" }, "step"));
  // the colour bar: vertical, bottom = smallest
  const bx = W - 60, bwid = 14, id = "heat-grad";
  const defs = el("defs");
  const grad = el("linearGradient", { id, x1: 0, y1: 1, x2: 0, y2: 0 });
  for (const f of [0, 0.25, 0.5, 0.75, 1]) grad.append(el("stop", { offset: f, "stop-color": colour(f) }));
  defs.append(grad);
  svg.append(defs);
  svg.append(el("rect", { x: bx, y: y0, width: bwid, height: y1 - y0, fill: `url(#${id})`, stroke: "#667085", class: "colour-bar" }));
  const CY = (v) => y1 - (v - vmin) / span * (y1 - y0);
  const cstep = Math.max(1, niceStep(span, 4));
  const cticks = [vmin, vmax];
  for (let v = Math.ceil(vmin / cstep) * cstep; v < vmax; v += cstep) if (Math.abs(CY(v) - CY(vmin)) > 16 && Math.abs(CY(v) - CY(vmax)) > 16) cticks.push(v);
  for (const v of cticks) {
    svg.append(el("line", { x1: bx + bwid, y1: CY(v), x2: bx + bwid + 3, y2: CY(v), stroke: "#667085" }));
    svg.append(el("text", { x: bx + bwid + 5, y: CY(v) + 4, class: "small" }, v.toFixed(1)));
  }
  svg.append(el("text", { x: W - 2, y: y1 + 50, "text-anchor": "end", class: "small heat-axis" }, "log10|∂L/∂w_k|"));
  $("tr-heat-legend").textContent = `rows: layers 1 (top) to ${L}; columns: steps 0 to ` +
    `${steps[cols - 1]}; colour: log10|∂L/∂w_k| from ${vmin.toFixed(1)} (dark blue) to ${vmax.toFixed(1)} (yellow); black: zero or not finite.`;
}

// ---- the theory panel: mean-field theory of deep, wide nets ------------------------------------
const TH_IDS = {
  activation: "th-activation", sigma_w2: "th-sw", sigma_b2: "th-sb", depth: "th-depth",
  width: "th-width", samples: "th-samples", simulate: "th-sim",
};
const TH_LABELS = { "th-sw": "σ_w²", "th-sb": "σ_b²", "th-depth": "depth L (theory)",
  "th-width": "width N", "th-samples": "nets" };
const th = { phase: null, phaseFor: "", seq: 0, abort: null, timer: 0, shown: null, result: null };
const PH = { x0: 58, x1: 400, y0: 12, y1: 250, W: 480 };  // the diagram's plot area (viewBox units; set by renderPhase)
function thBody() {
  const body = {
    activation: $("th-activation").value, sigma_w2: typed("th-sw"), sigma_b2: typed("th-sb"),
    depth: typed("th-depth"), simulate: $("th-sim").checked,
  };
  if (body.simulate) Object.assign(body, { width: typed("th-width"), samples: typed("th-samples") });
  return body;
}
function thRefreshStale() {
  const now = JSON.stringify(thBody());
  setStale("th", th.shown !== null && th.shown !== now
    ? "computed for other inputs; these are the numbers of the last valid ones." : "");
}
function thTypedOk() {
  let ok = true;
  for (const id of ["th-sw", "th-sb", "th-depth", "th-width", "th-samples"]) {
    if (!checkTyped($(id), TH_LABELS[id], `th-input:${id}`)) ok = false;
  }
  return ok;
}
function thSchedule(delay = 250) {  // typing: wait for a pause; a click or Enter: at once
  clearTimeout(th.timer);
  thRefreshStale();
  if (!thTypedOk()) return;
  th.timer = setTimeout(runTheory, delay);
}
async function runTheory() {
  const body = thBody();
  const seq = ++th.seq;
  if (th.abort) th.abort.abort();
  th.abort = new AbortController();
  $("th-status").textContent = body.simulate ? "simulating…" : "computing…";
  drawMarker();
  try {
    const r = await api("/api/theory", body, th.abort.signal);
    if (seq !== th.seq) return;
    $("th-status").textContent = "";
    setError("th", "");
    th.shown = JSON.stringify(body);
    th.result = r;
    renderTheory(r);
    window.gradtraceTheory = { body, result: r, n: ((window.gradtraceTheory || {}).n || 0) + 1 };
  } catch (e) {
    if (e.name === "AbortError" || seq !== th.seq) return;
    $("th-status").textContent = "";
    failed("th", e, runTheory, (e.locs || []).flatMap((l) => idsFor(l, TH_IDS)), "Theory: ");
  }
  thRefreshStale();
}
async function loadPhase() {
  const act = $("th-activation").value;
  if (th.phaseFor === act) return;
  th.phaseFor = act;
  try {
    const p = await api("/api/phase", { activation: act });
    if (th.phaseFor !== act) return;
    th.phase = p;
    setError("th-phase", "");
    renderPhase();
  } catch (e) {
    th.phaseFor = "";
    failed("th-phase", e, loadPhase, ["th-activation"], "Phase diagram: ");
  }
}
function phaseScale() {
  const p = th.phase;
  const wmax = p.sigma_w2[p.sigma_w2.length - 1], bmax = p.sigma_b2[p.sigma_b2.length - 1];
  return {
    wmax, bmax, dw: p.sigma_w2[1] - p.sigma_w2[0], db: p.sigma_b2[1] - p.sigma_b2[0],
    X: (w) => PH.x0 + w / wmax * (PH.x1 - PH.x0),
    Y: (b) => PH.y1 - b / bmax * (PH.y1 - PH.y0),
  };
}
function renderPhase() {
  const svg = $("th-phase"), p = th.phase;
  clear(svg);
  if (!p) return;
  PH.W = chartWidth(svg);
  PH.x1 = PH.W - 84;
  svg.setAttribute("viewBox", `0 0 ${PH.W} 310`);
  const { wmax, bmax, X, Y } = phaseScale();
  const all = p.log10_xi_c.flat().filter((v) => v !== null);
  const lo = Math.min(...all), hi = Math.max(...all), span = Math.max(1e-9, hi - lo);
  const rows = p.sigma_b2.length, cols = p.sigma_w2.length;
  const cv = document.createElement("canvas");
  cv.width = cols;
  cv.height = rows;
  const ctx = cv.getContext("2d");
  p.log10_xi_c.forEach((row, j) => row.forEach((v, i) => {  // row 0 is sigma_b2 = 0: the bottom
    ctx.fillStyle = colour(v === null ? 1 : (v - lo) / span);
    ctx.fillRect(i, rows - 1 - j, 1, 1);
  }));
  cellCanvas(svg, cv, PH.x0, PH.y0, PH.x1 - PH.x0, PH.y1 - PH.y0, "plot-area");
  svg.append(el("rect", { x: PH.x0, y: PH.y0, width: PH.x1 - PH.x0, height: PH.y1 - PH.y0,
    fill: "none", stroke: "#667085", class: "plot-frame" }));
  // the critical line: white on a dark edge, visible on every colour
  let d = "", pen = false;
  p.critical_sigma_w2.forEach((w, j) => {
    if (w === null || w > wmax) { pen = false; return; }
    d += `${pen ? "L" : "M"}${X(w).toFixed(1)},${Y(p.sigma_b2[j]).toFixed(1)}`;
    pen = true;
  });
  svg.append(el("path", { d, fill: "none", stroke: "#101828", "stroke-width": 4, class: "critical" }));
  svg.append(el("path", { d, fill: "none", stroke: "#fff", "stroke-width": 2 }));
  const w0 = p.critical_sigma_w2[0];
  if (w0 !== null && w0 < wmax) {
    svg.append(el("text", { x: X(w0 / 2), y: PH.y1 - 8, "text-anchor": "middle", class: "small halo" }, "ordered"));
    svg.append(el("text", { x: X((w0 + wmax) / 2), y: PH.y1 - 8, "text-anchor": "middle", class: "small halo" }, "chaotic"));
  }
  // axes and ticks
  const wstep = niceStep(wmax, 5), bstep = niceStep(bmax, 4);
  const wt = [];
  for (let v = 0; v <= wmax + 1e-9; v += wstep) wt.push(Number(v.toPrecision(6)));
  xTicks(svg, wt, X, PH.y1);
  for (let v = 0; v <= bmax + 1e-9; v += bstep) {
    const y = Y(v);
    svg.append(el("line", { x1: PH.x0 - 4, y1: y, x2: PH.x0, y2: y, stroke: "#667085" }));
    svg.append(el("text", { x: PH.x0 - 6, y: y + 4, "text-anchor": "end", class: "small" }, String(Number(v.toPrecision(6)))));
  }
  svg.append(el("text", { x: 14, y: (PH.y0 + PH.y1) / 2, transform: `rotate(-90 14 ${(PH.y0 + PH.y1) / 2})`,
    "text-anchor": "middle", class: "small axis-label" }, "σ_b² (bias variance)"));
  svg.append(el("text", { x: (PH.x0 + PH.x1) / 2, y: PH.y1 + 32, "text-anchor": "middle", class: "small axis-label" },
    PH.W < 400 ? "σ_w² (weight var. × fan-in)" : "σ_w² (weight variance × fan-in)"));
  // the colour bar: log10 xi_c, bottom = smallest; its top is also infinite xi_c
  const bx = PH.W - 60, bwid = 14, id = "th-grad";
  const defs = el("defs");
  const grad = el("linearGradient", { id, x1: 0, y1: 1, x2: 0, y2: 0 });
  for (const f of [0, 0.25, 0.5, 0.75, 1]) grad.append(el("stop", { offset: f, "stop-color": colour(f) }));
  defs.append(grad);
  svg.append(defs);
  svg.append(el("rect", { x: bx, y: PH.y0, width: bwid, height: PH.y1 - PH.y0, fill: `url(#${id})`, stroke: "#667085", class: "colour-bar" }));
  const CY = (v) => PH.y1 - (v - lo) / span * (PH.y1 - PH.y0);
  const cstep = niceStep(span, 4);
  const cticks = [lo, hi];
  for (let v = Math.ceil(lo / cstep) * cstep; v < hi; v += cstep) if (Math.abs(CY(v) - CY(lo)) > 22 && Math.abs(CY(v) - CY(hi)) > 22) cticks.push(v);
  for (const v of cticks) {
    svg.append(el("line", { x1: bx + bwid, y1: CY(v), x2: bx + bwid + 3, y2: CY(v), stroke: "#667085" }));
    svg.append(el("text", { x: bx + bwid + 5, y: CY(v) + 4, class: "small" }, v.toFixed(1)));
  }
  svg.append(el("text", { x: PH.W - 2, y: PH.y1 + 50, "text-anchor": "end", class: "small axis-label" }, "log10 ξ_c"));
  $("th-phase-readout").textContent = `colour: log10 of the depth scale ξ_c, from ${lo.toFixed(1)} (dark blue) to ` +
    `${hi.toFixed(1)} (yellow; also where ξ_c is infinite); white line: the critical line χ₁ = 1. ` +
    `σ_w² from ${fmt(p.sigma_w2[0])} to ${fmt(wmax)}, σ_b² from 0 to ${fmt(bmax)} (${cols} × ${rows} points).`;
  drawMarker();
}
function drawMarker() {
  const svg = $("th-phase");
  svg.querySelectorAll(".marker").forEach((m) => m.remove());
  if (!th.phase) return;
  const sw = typed("th-sw"), sb = typed("th-sb");
  if (sw === null || sb === null) return;
  const { wmax, bmax, X, Y } = phaseScale();
  const inside = sw <= wmax && sb <= bmax;
  const cx = X(Math.min(sw, wmax)), cy = Y(Math.min(sb, bmax));
  const g = el("g", { class: "marker" });
  g.append(el("circle", { cx, cy, r: 7, fill: "none", stroke: "#101828", "stroke-width": 4 }));
  g.append(el("circle", { cx, cy, r: 7, fill: inside ? "none" : "#f79009", stroke: "#fff", "stroke-width": 2 }));
  g.append(el("circle", { cx, cy, r: 1.5, fill: "#fff" }));
  g.append(el("title", {}, `σ_w² = ${sw}, σ_b² = ${sb}${inside ? "" : " (outside the diagram)"}`));
  svg.append(g);
}
function setPoint(sw, sb) {
  const { wmax, bmax, dw } = phaseScale();
  sw = Math.max(dw, Math.min(wmax, sw));
  sb = Math.max(0, Math.min(bmax, sb));
  $("th-sw").value = String(Number(sw.toPrecision(3)));
  $("th-sb").value = String(Number(sb.toPrecision(3)));
  drawMarker();
}
function phaseClick(e) {
  if (!th.phase) return;
  const svg = $("th-phase");
  const pt = svg.createSVGPoint();
  pt.x = e.clientX;
  pt.y = e.clientY;
  const v = pt.matrixTransform(svg.getScreenCTM().inverse());
  if (v.x < PH.x0 || v.x > PH.x1 || v.y < PH.y0 || v.y > PH.y1) return;
  const { wmax, bmax } = phaseScale();
  setPoint((v.x - PH.x0) / (PH.x1 - PH.x0) * wmax, (PH.y1 - v.y) / (PH.y1 - PH.y0) * bmax);
  thSchedule(0);
}
function phaseKey(e) {
  if (!th.phase) return;
  if (e.key === "Enter") { e.preventDefault(); thSchedule(0); return; }
  const move = { ArrowRight: [1, 0], ArrowLeft: [-1, 0], ArrowUp: [0, 1], ArrowDown: [0, -1] }[e.key];
  if (!move) return;
  e.preventDefault();
  const { dw, db } = phaseScale(), k = e.shiftKey ? 10 : 1;
  setPoint((typed("th-sw") ?? 1) + k * move[0] * dw, (typed("th-sb") ?? 0) + k * move[1] * db);
  thRefreshStale();
}
function fmtTh(v) { return v === null ? "∞" : fmt(v); }
const PHASE_WORDS = {
  ordered: "ordered (χ₁ < 1): gradients shrink by χ₁ per layer going back; inputs' correlations converge to 1",
  critical: "critical (χ₁ = 1): gradients keep their size; signals propagate through any depth",
  chaotic: "chaotic (χ₁ > 1): gradients grow by χ₁ per layer going back; nearby inputs decorrelate",
};
function renderTheory(r) {
  th.result = r;
  const row = (field, name, value, text, meaning) =>
    `<div><dt>${name}</dt><dd><span data-field="${field}" data-value="${value}" ` +
    `title="${value === null ? "infinite" : full(value)}">${text}</span>` +
    `<span class="meaning">${meaning}</span></dd></div>`;
  $("th-numbers").innerHTML =
    row("phase", "phase", r.phase, r.phase, PHASE_WORDS[r.phase] || "") +
    row("chi_1", "χ₁", r.chi_1, fmt(r.chi_1), "σ_w² E[φ′(h)²] at q*: the factor |∂L/∂h|² gains per layer passed back") +
    row("q_star", "q*", r.q_star, fmtTh(r.q_star), "the fixed point of the pre-activations' variance, reached after a few layers") +
    row("xi_c", "ξ_c", r.xi_c, fmtTh(r.xi_c), "depth scale: layers over which the correlation of two inputs is forgotten (∞ at χ₁ = 1)") +
    (r.sigma_w2_critical === null ? "" : row("sigma_w2_critical", "critical σ_w²", r.sigma_w2_critical,
      fmt(r.sigma_w2_critical), `at σ_b² = ${fmt(r.sigma_b2)}: where χ₁ = 1`));
  renderDecay(r);
}
function renderDecay(r) {
  const svg = $("th-decay");
  clear(svg);
  const W = chartWidth(svg);
  const L = r.depth, sim = r.simulated;
  const lg = (v) => (v === null || !(v > 0) ? NaN : Math.log10(v));
  const growth = r.growth.map(lg);
  const series = [growth];
  if (sim) series.push(sim.grad_norm_ratio.map(lg), sim.grad_norm_ratio_predicted.map(lg));
  const [lo, hi] = logRange(series.flat());
  const x0 = 62, x1 = W - 12, y0 = 12, y1 = 220;
  const X = (l) => x0 + (L > 1 ? (l - 1) / (L - 1) : 0.5) * (x1 - x0);
  const Y = (v) => y1 - (v - lo) / (hi - lo) * (y1 - y0);
  axes(svg, x0, y0, x1, y1, ticks(lo, hi, Y), "|∂L/∂h^l|² / |∂L/∂h^L|²", "layer l (L: the last)");
  const lstep = L <= 10 ? 1 : niceStep(L, 5);
  const lt = [1];
  for (let l = lstep; l <= L; l += lstep) if (l > 1 && X(l) - X(lt[lt.length - 1]) > 22) lt.push(l);
  if (!lt.includes(L) && X(L) - X(lt[lt.length - 1]) > 22) lt.push(L);
  xTicks(svg, lt, X, y1);
  const path = (vals, attrs) => {
    let d = "";
    vals.forEach((v, i) => { if (Number.isFinite(v)) d += `${d ? "L" : "M"}${X(i + 1).toFixed(1)},${Y(v).toFixed(1)}`; });
    svg.append(el("path", { d, fill: "none", ...attrs }));
  };
  path(growth, { stroke: "#2f5bd3", "stroke-width": 2, class: "predicted" });
  const legend = [["#2f5bd3", "line", "mean field: χ₁^(L−l)"]];
  if (sim) {
    path(sim.grad_norm_ratio_predicted.map(lg), { stroke: "#b54708", "stroke-width": 1.5, "stroke-dasharray": "5 3", class: "predicted-layerwise" });
    sim.grad_norm_ratio.forEach((v, i) => {
      const y = lg(v);
      if (!Number.isFinite(y)) return;
      const c = el("circle", { cx: X(i + 1), cy: Y(y), r: 3.5, fill: "#d92d20", class: "simulated" });
      c.append(el("title", {}, `layer ${i + 1}: measured ${full(v)}, predicted ${full(sim.grad_norm_ratio_predicted[i])}`));
      svg.append(c);
    });
    legend.push(["#b54708", "dash", "mean field from the same input"],
      ["#d92d20", "dot", `simulated: ${sim.samples} nets, width ${sim.width}`]);
  }
  legend.forEach(([c, kind, text], i) => {
    const ly = y1 + 52 + 17 * i;
    const g = el("g", { class: "legend" });
    if (kind === "dot") g.append(el("circle", { cx: x0 + 10, cy: ly - 4, r: 3.5, fill: c }));
    else g.append(el("line", { x1: x0, y1: ly - 4, x2: x0 + 20, y2: ly - 4, stroke: c, "stroke-width": 2,
      "stroke-dasharray": kind === "dash" ? "5 3" : "none" }));
    g.append(el("text", { x: x0 + 26, y: ly, class: "small" }, text));
    svg.append(g);
  });
  svg.setAttribute("viewBox", `0 0 ${W} ${y1 + 52 + 17 * (legend.length - 1) + 6}`);
  decayNote(r);
}
// what the lines and the dots are, and why the dots need not sit on the solid line: numbers from
// the answer itself (README, "The theory panel's simulated points", has the investigation)
function decayNote(r) {
  const sim = r.simulated, L = r.depth, note = $("th-decay-note");
  const line = `Solid line: χ₁^(L−l) = ${short(r.chi_1)}^(${L}−l), the theory's growth once every layer's ` +
    `pre-activations have the fixed-point variance q* = ${r.q_star === null ? "∞ (none)" : short(r.q_star)}.`;
  if (!sim) { note.textContent = line; return; }
  const q = sim.q, at = (a, i) => short(a[i]);
  note.textContent = `${line} The dots are not measured at q*: the simulated nets start from a random input ` +
    `with q⁰ = ${at(q, 0)}, so their first layers have q¹ = ${at(q, 1)}${L > 1 ? `, q² = ${at(q, 2)}` : ""} ` +
    `before they settle, and ${r.activation}′ is smaller there. The dashed line is the same theory ` +
    `computed layer by layer from that input (at layer 1: ${at(sim.grad_norm_ratio_predicted, 0)} against ` +
    `${at(r.growth, 0)} on the solid line); compare the dots with it. What is left is finite width: each dot ` +
    `averages ${sim.samples} net${sim.samples > 1 ? "s" : ""} × 2 inputs of width ${sim.width}; at finite width ` +
    `each layer's factor fluctuates around its mean, and the ${L - 1} factors behind layer 1 multiply, so the ` +
    `lowest layers scatter most (here layer 1 measures ${at(sim.grad_norm_ratio, 0)} against the dashed line's ` +
    `${at(sim.grad_norm_ratio_predicted, 0)}). More nets or a larger width bring the dots onto the dashed line.`;
}
function wireTheory() {
  const sel = $("th-activation");
  for (const a of ACTIVATIONS) sel.append(new Option(a, a));
  sel.value = "tanh";
  sel.addEventListener("change", () => { loadPhase(); thSchedule(0); });
  for (const id of ["th-sw", "th-sb", "th-depth", "th-width", "th-samples"]) {
    $(id).addEventListener("input", () => { drawMarker(); thSchedule(); });
  }
  $("th-sim").addEventListener("change", () => thSchedule(0));
  const box = $("th-phase-box");
  box.addEventListener("click", phaseClick);
  box.addEventListener("keydown", phaseKey);
}

// ---- start ------------------------------------------------------------------------------------
async function start() {
  fillSelects();
  wireControls();
  wireTheory();
  loadPhase();
  runTheory();
  await loadPresets();
}
// the exercise's presets, then the first network: part (b)'s, unless the lesson (lesson.js)
// sets its own (it cancels the "gradtrace:ready" event)
async function loadPresets() {
  try {
    presets = await api("/api/presets");
  } catch (e) {
    failed("general", e, loadPresets, [], "Cannot load the exercise: ");
    return;
  }
  setError("general", "");
  const ready = new CustomEvent("gradtrace:ready", { cancelable: true });
  if (document.dispatchEvent(ready)) applyPreset("exercise-classification");
}
start();
