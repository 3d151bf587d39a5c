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
function fmt(v) {
  if (v === null || v === undefined) return "—";
  if (v === 0) return "0";
  const a = Math.abs(v);
  return (a >= 1e-4 && a < 1e6) ? String(Number(v.toPrecision(6))) : v.toExponential(5);
}
function el(tag, attrs = {}, text) {
  const e = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}
function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
function showError(msg) {
  const e = $("error");
  e.hidden = !msg;
  e.textContent = msg || "";
}
async function api(path, body, signal, meta) {
  const r = await fetch(path, body === undefined ? { signal } : {
    method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify(body), signal,
  });
  if (meta) meta.headers = r.headers;
  const data = await r.json();
  if (!r.ok) {
    const d = data.detail;
    throw new Error(Array.isArray(d) ? d.map((x) => x.msg).join("; ") : String(d));
  }
  return data;
}

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
function buildRows(container, prefix, values, onChange) {
  clear(container);
  values.forEach((v, k) => {
    const row = document.createElement("div");
    row.className = "wrow";
    const name = document.createElement("span");
    name.innerHTML = `${prefix}<sub>${k + 1}</sub>`;
    const range = document.createElement("input");
    Object.assign(range, { type: "range", min: -6, max: 6, step: 0.01, value: v });
    range.id = `${prefix}-range-${k + 1}`;
    range.setAttribute("aria-label", `${prefix}${k + 1} slider`);
    const num = document.createElement("input");
    Object.assign(num, { type: "number", step: "any", value: v });
    num.id = `${prefix}-${k + 1}`;
    num.setAttribute("aria-label", `${prefix}${k + 1}`);
    range.addEventListener("input", () => { num.value = range.value; onChange(k, Number(range.value)); });
    num.addEventListener("input", () => {
      const x = num.valueAsNumber;
      if (Number.isFinite(x)) { range.value = String(x); onChange(k, x); }
    });
    row.append(name, range, num);
    container.append(row);
  });
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
  $("depth").value = d;
  rebuildWeightRows();
}
function syncForm() {
  for (const id of ["activation", "output_activation", "loss"]) $(id).value = state[id];
  $("biases").checked = state.biases;
  $("residual").checked = state.residual;
  $("x").value = state.x;
  $("target").value = state.target;
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
  $("depth").addEventListener("input", () => {
    const d = $("depth").valueAsNumber;
    if (Number.isFinite(d) && d >= 1 && d <= MAX_DEPTH) { setDepth(d); update(); }
    else showError(`depth must be a whole number from 1 to ${MAX_DEPTH}`);
  });
  for (const id of ["activation", "output_activation", "loss"]) {
    $(id).addEventListener("change", () => { state[id] = $(id).value; update(); });
  }
  for (const id of ["biases", "residual"]) {
    $(id).addEventListener("change", () => { state[id] = $(id).checked; rebuildWeightRows(); update(); });
  }
  for (const id of ["x", "target"]) {
    $(id).addEventListener("input", () => { state[id] = readNumber($(id), state[id]); update(); });
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
  const body = {
    ...specBody(), weights: state.weights.slice(0, state.depth), x: state.x, target: state.target,
  };
  if (state.biases) body.biases = state.bias.slice(0, state.depth);
  let trace;
  try {
    [trace] = await Promise.all([api("/api/trace", body, traceAbort.signal), ensureCurve()]);
  } catch (e) {
    if (e.name === "AbortError") return;
    showError(e.message);
    return;
  }
  if (seq !== traceSeq) return;
  showError("");
  lastTrace = trace;
  renderTrace(trace);
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
  $("summary").innerHTML =
    `loss L = <b data-field="loss" data-value="${t.loss}">${fmt(t.loss)}</b>, prediction y = ` +
    `<b data-field="prediction" data-value="${t.prediction}">${fmt(t.prediction)}</b>, ` +
    `∂L/∂y = ${fmt(t.dloss_dprediction)}; ratio |∂L/∂w<sub>1</sub>| / |∂L/∂w<sub>${L}</sub>| = ` +
    `${fmt(Math.abs(t.layers[0].grad_weight / t.layers[L - 1].grad_weight))}${warn}`;
  renderChain(t);
  renderTable(t);
  renderBars(t);
  renderCurve(t);
}
function renderChain(t) {
  const L = t.layers.length, gap = 210, w = 110 + gap * (L + 1), h = 150, cy = 78;
  const svg = el("svg", { width: w, height: h, viewBox: `0 0 ${w} ${h}` });
  const xs = (i) => 56 + gap * i;
  const node = (i, title, lines, cls) => {
    const g = el("g", { class: `node ${cls}` });
    g.append(el("rect", { x: xs(i) - 52, y: cy - 44, width: 104, height: 88, rx: 10,
      fill: "#f5f8ff", stroke: "#2f5bd3" }));
    g.append(el("text", { x: xs(i), y: cy - 28, "text-anchor": "middle", "font-weight": 600 }, title));
    lines.forEach((s, j) => g.append(el("text", { x: xs(i), y: cy - 10 + 16 * j, "text-anchor": "middle" }, s)));
    svg.append(g);
  };
  node(0, "input", [`x = ${fmt(state.x)}`], "input");
  t.layers.forEach((ly, k) => {
    const i = k + 1;
    const g = el("g", { class: "edge" });
    g.append(el("line", { x1: xs(i - 1) + 52, y1: cy, x2: xs(i) - 52, y2: cy, stroke: "#98a2b3", "stroke-width": 2 }));
    g.append(el("text", { x: (xs(i - 1) + xs(i)) / 2, y: cy - 8, "text-anchor": "middle" }, `w${i} = ${fmt(ly.weight)}`));
    if (ly.chain_factor !== null && ly.chain_factor !== undefined) {
      g.append(el("text", { x: (xs(i - 1) + xs(i)) / 2, y: cy + 16, "text-anchor": "middle", fill: "#b54708" },
        `w·φ′ = ${fmt(ly.chain_factor)}`));
    }
    svg.append(g);
    node(i, i === L ? `output (layer ${i})` : `layer ${i}`, [
      `z = ${fmt(ly.z)}`, `a = ${fmt(ly.a)}`, `δ = ${fmt(ly.delta)}`, `∂L/∂w = ${fmt(ly.grad_weight)}`,
    ], "layer");
  });
  const gl = el("g", { class: "edge" });
  gl.append(el("line", { x1: xs(L) + 52, y1: cy, x2: xs(L + 1) - 52, y2: cy, stroke: "#98a2b3", "stroke-width": 2 }));
  svg.append(gl);
  node(L + 1, "loss", [`L = ${fmt(t.loss)}`, `y = ${fmt(t.prediction)}`, `ŷ = ${fmt(state.target)}`], "loss");
  const box = $("chain");
  clear(box);
  box.append(svg);
}
function renderTable(t) {
  const hasB = t.layers.length && "grad_bias" in t.layers[0];
  const cols = [["layer", "k"], ["weight", "w<sub>k</sub>"], ["z", "z<sub>k</sub>"], ["a", "a<sub>k</sub>"],
    ["activation_derivative", "φ′(z<sub>k</sub>)"], ["delta", "δ<sub>k</sub> = ∂L/∂z<sub>k</sub>"],
    ["grad_weight", "∂L/∂w<sub>k</sub>"]];
  if (hasB) cols.push(["grad_bias", "∂L/∂b<sub>k</sub>"]);
  let html = "<thead><tr>" + cols.map((c) => `<th>${c[1]}</th>`).join("") + "</tr></thead><tbody>";
  for (const ly of t.layers) {
    html += "<tr>" + cols.map(([f]) => f === "layer" ? `<td>${ly.layer}</td>`
      : `<td class="num" data-field="${f}" data-layer="${ly.layer}" data-value="${ly[f]}">${fmt(ly[f])}</td>`).join("") + "</tr>";
  }
  $("backward").innerHTML = html + "</tbody>";
}
function axes(svg, x0, y0, x1, y1, yTicks, yLabel, xLabel) {
  svg.append(el("line", { x1: x0, y1: y1, x2: x1, y2: y1, stroke: "#667085" }));
  svg.append(el("line", { x1: x0, y1: y0, x2: x0, y2: y1, stroke: "#667085" }));
  for (const [y, label] of yTicks) {
    svg.append(el("line", { x1: x0 - 4, y1: y, x2: x1, y2: y, stroke: "#eaecf0" }));
    svg.append(el("text", { x: x0 - 6, y: y + 3, "text-anchor": "end", class: "small" }, label));
  }
  svg.append(el("text", { x: 12, y: (y0 + y1) / 2, transform: `rotate(-90 12 ${(y0 + y1) / 2})`, "text-anchor": "middle", class: "small" }, yLabel));
  svg.append(el("text", { x: (x0 + x1) / 2, y: y1 + 30, "text-anchor": "middle", class: "small" }, xLabel));
}
function xTicks(svg, values, X, y1, label = String) {
  for (const v of values) {
    svg.append(el("line", { x1: X(v), y1: y1, x2: X(v), y2: y1 + 4, stroke: "#667085" }));
    svg.append(el("text", { x: X(v), y: y1 + 15, "text-anchor": "middle", class: "small" }, label(v)));
  }
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
function renderBars(t) {
  const svg = $("bars");
  clear(svg);
  const L = t.layers.length;
  const logs = t.layers.map((ly) => ly.grad_weight ? Math.log10(Math.abs(ly.grad_weight)) : NaN);
  const [lo, hi] = logRange(logs);
  const x0 = 60, x1 = 470, y0 = 12, y1 = 220;
  const y = (v) => y1 - (v - lo) / (hi - lo) * (y1 - y0);
  axes(svg, x0, y0, x1, y1, ticks(lo, hi, y), "|∂L/∂w_k| (log10 axis)", "layer k");
  const bw = (x1 - x0) / L;
  logs.forEach((v, k) => {
    const bx = x0 + k * bw + bw * 0.15;
    if (Number.isFinite(v)) {
      svg.append(el("rect", { x: bx, y: y(v), width: bw * 0.7, height: y1 - y(v), fill: "#2f5bd3",
        "data-layer": k + 1 }));
    } else {
      svg.append(el("text", { x: bx, y: y1 - 4, class: "small", fill: "#b42318" }, "0"));
    }
    if (L <= 20 || k % Math.ceil(L / 20) === 0) {
      svg.append(el("text", { x: bx + bw * 0.35, y: y1 + 14, "text-anchor": "middle", class: "small" }, String(k + 1)));
    }
  });
}
const CURVE_NOTES = {
  sigmoid: "s′ is at most 1/4 (at z = 0): each sigmoid layer shrinks δ at least 4-fold unless |w| > 4.",
  tanh: "tanh′ is at most 1 (at z = 0) and falls like 4e^(−2|z|): a saturated unit passes almost nothing.",
  relu: "relu′ is 1 for z > 0 and 0 otherwise: a unit with z ≤ 0 passes no gradient at all.",
  leaky_relu: "leaky relu′ is 1 for z > 0 and 0.01 otherwise: small, but never zero.",
  softsign: "softsign′ = 1/(1 + |z|)²: at most 1, and it decays like 1/z², not exponentially.",
  identity: "identity′ = 1: the gradient is the product of the weights alone.",
};
function renderCurve(t) {
  $("curve-note").textContent = CURVE_NOTES[curveActivation()] || "";
  const svg = $("curve");
  clear(svg);
  const c = curves[curveActivation()];
  if (!c) return;
  const x0 = 50, x1 = 470, y0 = 12, y1 = 220;
  let ymax = Math.max(...c.derivative) * 1.1 || 1;
  const X = (z) => x0 + (z + 8) / 16 * (x1 - x0);
  const Y = (v) => y1 - v / ymax * (y1 - y0);
  const yt = [0, 0.25, 0.5, 0.75, 1].map((f) => [Y(f * ymax), (f * ymax).toPrecision(2)]);
  axes(svg, x0, y0, x1, y1, yt, `${curveActivation()}′(z)`, "z (marks: each layer's z_k; arrows: outside the range)");
  let d = "";
  c.z.forEach((z, i) => { d += `${i ? "L" : "M"}${X(z).toFixed(1)},${Y(c.derivative[i]).toFixed(1)}`; });
  svg.append(el("path", { d, fill: "none", stroke: "#2f5bd3", "stroke-width": 2 }));
  xTicks(svg, [-8, -4, 0, 4, 8], X, y1);
  const L = t.layers.length;
  t.layers.forEach((ly, k) => {
    if (L > 1 && k === L - 1 && state.output_activation !== state.activation) return;
    if (ly.z === null) return;
    const inside = ly.z >= -8 && ly.z <= 8;
    const zx = X(Math.max(-8, Math.min(8, ly.z)));
    const vy = inside ? Y(ly.activation_derivative) : y1 - 10;
    svg.append(el("circle", { cx: zx, cy: vy, r: inside ? 4 : 3, fill: inside ? "#d92d20" : "#f79009" }));
    if (L <= 8 || k === 0 || k === L - 2) {  // deep chains: label the first and last hidden layers
      svg.append(el("text", { x: zx + 5, y: vy - 5, class: "small" }, `${inside ? "" : (ly.z < 0 ? "←" : "→")}z${k + 1}`));
    }
  });
}

// ---- formulas ---------------------------------------------------------------------------------
async function updateFormulas() {
  const body = { ...specBody(), depth: state.depth, biases: state.biases, closed_form: false };
  const key = JSON.stringify(body);
  if (key === deriveKey) return;
  deriveKey = key;
  const box = $("formulas");
  if (state.residual) {
    box.innerHTML = "<p class='muted'>With skip connections a gradient is a sum over paths, not one chain product; no single formula is shown.</p>";
    return;
  }
  try {
    const d = await api("/api/derive", body);
    if (key !== deriveKey) return;
    box.innerHTML = Object.values(d.mathml).join("");
  } catch (e) {
    box.textContent = e.message;
  }
}

// ---- Monte Carlo ------------------------------------------------------------------------------
async function runMonteCarlo() {
  const body = {
    ...specBody(), depth: state.depth, biases: state.biases, init: $("mc-init").value,
    std: readNumber($("mc-std"), 1), samples: Number($("mc-samples").value),
    seed: readNumber($("mc-seed"), 0), x: state.x, target: state.target,
  };
  $("mc-status").textContent = "running…";
  const t0 = performance.now();
  const meta = {};
  try {
    const r = await api("/api/montecarlo", body, undefined, meta);
    // the run's own time, measured in the worker (Server-Timing: job;dur=ms), not queue wait
    const dur = /job;dur=([\d.]+)/.exec(meta.headers.get("server-timing") || "");
    const s = dur ? Number(dur[1]) / 1000 : (performance.now() - t0) / 1000;
    $("mc-status").textContent = `${r.samples.toLocaleString()} samples in ${s.toFixed(2)} s`;
    renderMonteCarlo(r);
  } catch (e) {
    $("mc-status").textContent = "";
    showError(e.message);
  }
}
function renderMonteCarlo(r) {
  const svg = $("mc-plot");
  clear(svg);
  const q = r.layers.map((l) => l.abs_grad_quantiles);
  const lg = (v) => (v ? Math.log10(v) : NaN);
  const [lo, hi] = logRange(q.flatMap((x) => [lg(x.p05), lg(x.p95)]));
  const x0 = 60, x1 = 950, y0 = 12, y1 = 240;
  const Y = (v) => y1 - (Math.max(lo, v) - lo) / (hi - lo) * (y1 - y0);
  axes(svg, x0, y0, x1, y1, ticks(lo, hi, Y), "|∂L/∂w_k| (log10)", "layer k");
  const bw = (x1 - x0) / q.length;
  q.forEach((s, k) => {
    const cx = x0 + (k + 0.5) * bw, half = Math.min(18, bw * 0.3);
    const [a, b, m, c, d] = [s.p05, s.p25, s.p50, s.p75, s.p95].map(lg);
    svg.append(el("line", { x1: cx, x2: cx, y1: Y(a), y2: Y(d), stroke: "#475467" }));
    svg.append(el("rect", { x: cx - half, y: Y(c), width: 2 * half, height: Math.max(1, Y(b) - Y(c)), fill: "#c7d7fe", stroke: "#2f5bd3" }));
    svg.append(el("line", { x1: cx - half, x2: cx + half, y1: Y(m), y2: Y(m), stroke: "#d92d20", "stroke-width": 2 }));
    if (q.length <= 25 || k % Math.ceil(q.length / 25) === 0) {
      svg.append(el("text", { x: cx, y: y1 + 14, "text-anchor": "middle", class: "small" }, String(k + 1)));
    }
  });
  let html = "<table><thead><tr><th>k</th><th>median |g|</th><th>mean log10|g|</th><th>&lt; 1e-3</th><th>&lt; 1e-6</th><th>&gt; 1e2</th></tr></thead><tbody>";
  for (const l of r.layers) {
    html += `<tr><td>${l.layer}</td><td class="num">${fmt(l.abs_grad_quantiles.p50)}</td><td class="num">${fmt(l.mean_log10_abs_grad)}</td>` +
      `<td class="num">${(100 * l.fraction_below["1e-3"]).toFixed(2)} %</td><td class="num">${(100 * l.fraction_below["1e-6"]).toFixed(2)} %</td>` +
      `<td class="num">${(100 * l.fraction_above["1e2"]).toFixed(2)} %</td></tr>`;
  }
  $("mc-table").innerHTML = html + "</tbody></table>";
}

// ---- training ---------------------------------------------------------------------------------
async function runTraining() {
  const body = {
    ...specBody(), weights: state.weights.slice(0, state.depth), x: state.x, target: state.target,
    learning_rate: readNumber($("tr-lr"), 0.1), steps: readNumber($("tr-steps"), 300),
    target_scale: readNumber($("tr-scale"), 1),
  };
  if ($("tr-clip-on").checked) body.clip_norm = readNumber($("tr-clip"), 1);
  $("tr-status").textContent = "training…";
  try {
    const h = await api("/api/train", body);
    $("tr-status").textContent = "";
    renderTraining(h);
  } catch (e) {
    $("tr-status").textContent = "";
    showError(e.message);
  }
}
function renderTraining(h) {
  const message = h.message.startsWith(`${h.outcome}:`) ? h.message.slice(h.outcome.length + 1).trim() : h.message;
  $("tr-message").innerHTML = `<b>${h.outcome}</b>: ${message}` +
    (h.target_scale !== 1 ? ` (trained on target / ${fmt(h.target_scale)})` : "") +
    (h.clip_norm ? ` (gradient norm clipped at ${fmt(h.clip_norm)})` : "");
  const svg = $("tr-loss");
  clear(svg);
  const steps = h.loss_curve.step, loss = h.loss_curve.loss.map((v) => (v === null ? NaN : v));
  const logs = loss.map((v) => (v > 0 ? Math.log10(v) : NaN));
  const [lo, hi] = logRange(logs);
  const x0 = 60, x1 = 470, y0 = 12, y1 = 220;
  const smax = Math.max(1, steps[steps.length - 1]);
  const X = (s) => x0 + s / smax * (x1 - x0);
  const Y = (v) => y1 - (v - lo) / (hi - lo) * (y1 - y0);
  axes(svg, x0, y0, x1, y1, ticks(lo, hi, Y), "loss (log10 axis)", "step");
  xTicks(svg, [0, Math.round(smax / 2), smax], X, y1);
  let d = "";
  logs.forEach((v, i) => { if (Number.isFinite(v)) d += `${d ? "L" : "M"}${X(steps[i]).toFixed(1)},${Y(v).toFixed(1)}`; });
  svg.append(el("path", { d, fill: "none", stroke: "#2f5bd3", "stroke-width": 2 }));
  // heat map: rows = layers, columns = recorded steps, colour = log10|dL/dw|
  const cv = $("tr-heat"), ctx = cv.getContext("2d");
  ctx.clearRect(0, 0, cv.width, cv.height);
  const rows = h.heatmap.log10_abs_grad, cols = h.heatmap.step.length;
  const all = rows.flat().filter((v) => v !== null);
  if (!cols || !all.length) return;
  const vmin = Math.min(...all), vmax = Math.max(...all), span = Math.max(1e-9, vmax - vmin);
  const cw = cv.width / cols, rh = cv.height / rows.length;
  rows.forEach((row, k) => row.forEach((v, j) => {
    if (v === null) { ctx.fillStyle = "#000"; }
    else {
      const f = (v - vmin) / span;  // dark blue (small) to yellow (large)
      ctx.fillStyle = `hsl(${240 - 190 * f}, 85%, ${25 + 40 * f}%)`;
    }
    ctx.fillRect(j * cw, k * rh, Math.ceil(cw), Math.ceil(rh));
  }));
  $("tr-heat-legend").textContent = `rows: layers 1 (top) to ${rows.length}; columns: steps 0 to ` +
    `${h.heatmap.step[cols - 1]}; colour: log10|∂L/∂w_k| from ${vmin.toFixed(1)} (dark blue) to ${vmax.toFixed(1)} (yellow); black: zero or not finite.`;
}

// ---- start ------------------------------------------------------------------------------------
async function start() {
  fillSelects();
  wireControls();
  try {
    presets = await api("/api/presets");
  } catch (e) {
    showError(`cannot reach the API: ${e.message}`);
    return;
  }
  applyPreset("exercise-classification");
}
start();
