// gradtrace explorer: the guided lesson, the exercise step by step (docs/exercise.md; its model
// answer is `gradtrace solve`). Each step sets the explorer's controls, shows only the panels
// that matter, says what to look at, puts one control in the reader's hand and asks one
// question. The answer is built when the reader asks for it, from the API's own answers to the
// step's inputs: the page types in no number of the answer. This file drives app.js (its state,
// update(), presets, api()); app.js knows only that a "gradtrace:ready" event may be cancelled.
"use strict";

const PART_B = "exercise-classification", PART_D = "exercise-regression";
const DEEP = 10;  // the depth steps' chain: 10 sigmoid layers, every weight 1
const sub = (k) => `<sub>${k}</sub>`;

// ---- the inputs each step sets ----------------------------------------------------------------
function exerciseState(name) {  // part (b) or part (d) of the exercise, from /api/presets
  const p = presets[name];
  return { activation: p.activation, output_activation: p.output_activation, loss: p.loss,
    x: p.x, target: p.target, weights: p.weights.slice() };
}
function deepState(activation) {  // DEEP layers, every weight 1, part (b)'s sample and loss
  return { ...exerciseState(PART_B), activation, weights: Array(DEEP).fill(1) };
}
function traceBody(s) {  // the /api/trace request for a step's inputs
  return { activation: s.activation, output_activation: s.output_activation, loss: s.loss,
    residual: false, weights: s.weights, x: s.x, target: s.target };
}
function setNetwork(s) {  // the explorer's controls take the step's inputs
  Object.assign(state, { ...s, weights: s.weights.slice(), bias: s.weights.map(() => 0),
    biases: false, residual: false, depth: s.weights.length });
  syncForm();
  update();
}
function setTraining({ lr, scale = 1, clip = false }) {
  $("tr-lr").value = lr;
  $("tr-steps").value = 300;
  $("tr-scale").value = scale;
  $("tr-clip-on").checked = clip;
  $("tr-clip").value = 1;
}

// ---- how the answers write numbers --------------------------------------------------------------
// an API number: six digits (every digit with "full values" ticked), the float64 in data-value
function num(v, field = "") {
  return `<span class="num" data-field="${field}" data-value="${v}" title="${full(v)}">${fmt(v)}</span>`;
}
function times(a, b) {  // how many times |a| is larger than |b|, to 4 digits (the model answer's)
  const r = Math.abs(a) / Math.abs(b);
  return `<span class="num" data-value="${r}" title="${full(r)}">${Number(r.toPrecision(4)).toLocaleString("en")}</span>`;
}
function percent(v) {  // a relative change, as the model answer writes it: 34.2%, 2,438%
  const p = 100 * v;
  const text = Math.abs(p) >= 1000 ? Math.round(p).toLocaleString("en") : String(Number(p.toPrecision(3)));
  return `<span class="num" data-value="${v}" title="${full(v)}">${text}%</span>`;
}
function outcome(h) {  // a training's outcome word and the engine's sentence
  const m = h.message.startsWith(`${h.outcome}:`) ? h.message.slice(h.outcome.length + 1).trim() : h.message;
  return `<b data-field="outcome">${h.outcome}</b> (${m})`;
}
const trace = (s) => api("/api/trace", traceBody(s));
async function sigmoidCurve() {  // the curve app.js draws (the same request: cached there too)
  if (!curves.sigmoid) curves.sigmoid = await api("/api/activation/sigmoid?lo=-8&hi=8&points=401");
  return curves.sigmoid;
}
const sMax = async () => Math.max(...(await sigmoidCurve()).derivative);  // s'(0) = 1/4
const list = (xs) => xs.join(", ");

// ---- the steps ----------------------------------------------------------------------------------
// id, title; setup(): the controls it sets; show: the panels (ids) it shows; text(): what is set
// and why; look: what to look at; hand: the reader's controls; question; answer(): HTML, async
const STEPS = [
  {
    title: "(a) The sigmoid's slope: at most 1/4",
    setup: () => setNetwork(exerciseState(PART_B)),
    show: ["curve-box"],
    text: () => {
      const s = exerciseState(PART_B);
      return `<p>The sigmoid s(z) = 1/(1 + e<sup>−z</sup>) has the derivative s′(z) = s(z)(1 − s(z)), drawn
        here from z = −8 to 8. The red marks are the z${sub("k")} of part (b)'s chain, set for you: weights
        w = (${list(s.weights)}), input x = ${s.x}.</p>`;
    },
    look: "the height of the curve, and the dashed line at its largest value.",
    hand: [{ kind: "weight", k: 1, note: "z₁ = w₁ x slides along the curve as you move w₁; it never climbs above the dashed line." }],
    question: "Where does s′ take its largest value, what is that value, and where is s′ smallest?",
    answer: async () => {
      const c = await api("/api/activation/sigmoid?lo=0&hi=10&points=11");  // z = 0, 1, ..., 10
      const d = c.derivative;
      return `<p>The largest value is s′(0) = ${num(d[0], "s_prime_max")}, that is 1/4, at z = 0: there s(0) = 1/2,
        so s′(0) = 1/2 · 1/2. s′ has no smallest value: s′(z) > 0 for every z, and s′(z) → 0 as |z| → ∞, so its
        infimum 0 is approached but never attained: s′(2) = ${num(d[2])}, s′(5) = ${num(d[5])},
        s′(10) = ${num(d[10])}. s′ is even, so the same holds at −z.</p>
        <p>For backpropagation: each sigmoid layer the gradient passes back through multiplies it by w s′(z), at
        most |w|/4 in size, so as long as |w| < 4 gradients shrink layer by layer, and almost vanish where
        units saturate.</p>`;
    },
  },
  {
    title: "(b) Backpropagation: one factor per layer",
    setup: () => setNetwork(exerciseState(PART_B)),
    show: ["chain-panel", "table-panel"],
    text: () => {
      const s = exerciseState(PART_B);
      return `<p>Part (b): the classification chain at w = (${list(s.weights)}), x = ${s.x}, label ŷ = ${s.target},
        with the cross-entropy loss, set for you. Backpropagation starts at the output with
        δ${sub(3)} = ∂L/∂z${sub(3)} and goes back one layer at a time:
        δ${sub("k−1")} = δ${sub("k")} · w${sub("k")} s′(z${sub("k−1")}), and ∂L/∂w${sub("k")} = δ${sub("k")} a${sub("k−1")} (a${sub(0)} = x).</p>`;
    },
    look: `the orange factor w${sub("k")} s′(z${sub("k−1")}) on each edge of the chain, and the column ∂L/∂w${sub("k")} of the table.`,
    hand: [{ kind: "weight", k: 2, note: "move w₂: its factor w₂ s′(z₁) on the edge into layer 2, and ∂L/∂w₁ behind it, follow." }],
    question: "What are ∂L/∂w₁, ∂L/∂w₂ and ∂L/∂w₃, and how many times smaller is |∂L/∂w₁| than |∂L/∂w₃|?",
    answer: async () => {
      const [t, m] = await Promise.all([trace(exerciseState(PART_B)), sMax()]);
      const [l1, l2, l3] = t.layers;
      return `<p>∂L/∂w₁ = ${num(l1.grad_weight, "grad_w1")}, ∂L/∂w₂ = ${num(l2.grad_weight, "grad_w2")},
        ∂L/∂w₃ = ${num(l3.grad_weight, "grad_w3")}. The gradient shrinks towards the input: |∂L/∂w₁| is
        ${times(l3.grad_weight, l1.grad_weight)} times smaller than |∂L/∂w₃|, and |∂L/∂w₂|
        ${times(l3.grad_weight, l2.grad_weight)} times smaller.</p>
        <p>It starts from δ₃ = y − ŷ = ${num(l3.delta, "delta3")} (the cross-entropy's ∂L/∂y times s′(z₃) = y(1 − y)
        simplifies to y − ŷ). Each layer passed back multiplies the gradient by w${sub("j")} s′(z${sub("j−1")}):
        here w₃ s′(z₂) = ${num(l3.chain_factor, "factor3")} and w₂ s′(z₁) = ${num(l2.chain_factor, "factor2")}.</p>
        <p>The units are not saturated: s′(z₁) = ${num(l1.activation_derivative)} and s′(z₂) =
        ${num(l2.activation_derivative)} are close to the maximum 1/4. The shrinking comes from the small weights:
        |w₂|/4 = ${num(Math.abs(l2.weight) * m)} and |w₃|/4 = ${num(Math.abs(l3.weight) * m)} are the most those
        factors could be. A sigmoid layer with a weight below 4 in size cannot pass the gradient back
        undiminished.</p>`;
    },
  },
  {
    title: "(c) The gradients as formulas",
    setup: () => setNetwork(exerciseState(PART_D)),
    show: ["formulas-panel"],
    text: () => `<p>Parts (c) and (d) use the regression chain: the last sigmoid is dropped, so
      y = z₃ = w₃ s(z₂), fitted to a target ŷ with the squared error L = (ŷ − y)². The formulas are SymPy's
      chain rule for this chain, set for you (a₃ = z₃ = y here; a${sub("k")}(1 − a${sub("k")}) is s′(z${sub("k")})).</p>`,
    look: "the first factor of each formula, and what the three formulas share after it.",
    hand: [{ kind: "chain", note: "switch between the two chains: only the first factor changes." }],
    question: "Which factor of the three gradients involves the target ŷ, and what does that mean for the ratios between the layers' gradients?",
    answer: async () => {
      const s = exerciseState(PART_D);
      const d = await api("/api/derive", { activation: s.activation, output_activation: s.output_activation,
        loss: s.loss, depth: 3, closed_form: false });
      return `<p>Only the first factor, ∂L/∂y = 2(y − ŷ), involves the target ŷ. SymPy's three gradients
        (with a₃ = y):</p><div class="scroll">${["w1", "w2", "w3"].map((w) => d.mathml[w]).join("")}</div>
        <p>It scales all three gradients alike; the rest is the sensitivity ∂y/∂w${sub("k")} of the prediction,
        the same chain of w${sub("j")} s′(z${sub("j−1")}) factors as in (b). So the target can make the gradients
        large or small, but not change their ratios between layers.</p>`;
    },
  },
  {
    title: "(d) A target of 128: the gradient explodes",
    setup: () => setNetwork(exerciseState(PART_D)),
    show: ["table-panel", "bars-box"],
    text: () => {
      const s = exerciseState(PART_D);
      return `<p>Part (d): the regression chain of (c) at the same weights and x = ${s.x}, with the target
        ŷ = ${s.target}, set for you.</p>`;
    },
    look: `the column ∂L/∂w${sub("k")} and the bars: the same shape as in (b), on another scale.`,
    hand: [{ kind: "target", note: "change the target: every gradient scales with it; their ratios do not move." }],
    question: "How many times larger are the gradients than in (b), and why?",
    answer: async () => {
      const sd = exerciseState(PART_D);
      const [d, b, step] = await Promise.all([trace(sd), trace(exerciseState(PART_B)),
        api("/api/train", { ...traceBody(sd), learning_rate: 0.1, steps: 1 })]);
      const [d1, d2, d3] = d.layers, b3 = b.layers[2], w = step.layers;
      return `<p>∂L/∂w₁ = ${num(d1.grad_weight, "grad_w1")}, ∂L/∂w₂ = ${num(d2.grad_weight, "grad_w2")},
        ∂L/∂w₃ = ${num(d3.grad_weight, "grad_w3")}: ${times(d3.delta, b3.delta)} times larger than in (b), with the
        same ratios between layers (|∂L/∂w₁| is ${times(d3.grad_weight, d1.grad_weight)} times smaller than
        |∂L/∂w₃|): vanishing across layers and exploding in scale at once.</p>
        <p>Why: the prediction y = ${num(d.prediction, "prediction")} is far from the target, so
        δ₃ = ∂L/∂y = 2(y − ŷ) = ${num(d3.delta, "delta3")}, against δ₃ = y − ŷ = ${num(b3.delta)} in (b). Behind the
        output the chain is the one of (b): that first factor is the whole difference. The gradients are huge only
        because the target is far from anything the network outputs now.</p>
        <p>What it does to one gradient step w ← w − η ∂L/∂w with η = 0.1: w₁ moves by
        ${percent(w[0].first_relative_update)} of its value, w₂ by ${percent(w[1].first_relative_update)} (from
        ${num(w[1].initial_weight)} to ${num(w[1].final_weight)}) and w₃ by ${percent(w[2].first_relative_update)}.</p>`;
    },
  },
  {
    title: "Depth: each sigmoid layer, at most 1/4",
    setup: () => setNetwork(deepState("sigmoid")),
    show: ["chain-panel", "bars-box"],
    text: () => `<p>A deeper chain, set for you: ${DEEP} sigmoid layers, every weight 1, part (b)'s sample and
      loss. Each layer passed back multiplies the gradient by w${sub("j")} s′(z${sub("j−1")}); with
      w${sub("j")} = 1 that is s′(z${sub("j−1")}), at most 1/4.</p>`,
    look: `the strip's colours and the bars: |∂L/∂w${sub("k")}| falls with every layer towards layer 1.`,
    hand: [{ kind: "depth", note: "change the depth: each layer you add pushes ∂L/∂w₁ further down." }],
    question: `With ${DEEP} layers, how many times smaller is |∂L/∂w₁| than |∂L/∂w${sub(DEEP)}|, and what bounds it?`,
    answer: async () => {
      const s = deepState("sigmoid");
      const [t, m] = await Promise.all([trace(s), sMax()]);
      const ly = t.layers, L = ly.length, f = ly.slice(1).map((l) => l.chain_factor);
      const product = f.reduce((p, v) => p * v, 1);
      const decades = -Math.log10(Math.abs(ly[0].grad_weight / ly[L - 1].grad_weight));
      return `<p>|∂L/∂w₁| = ${num(Math.abs(ly[0].grad_weight), "grad_w1")} is ${times(ly[L - 1].grad_weight, ly[0].grad_weight)}
        times smaller than |∂L/∂w${sub(L)}| = ${num(Math.abs(ly[L - 1].grad_weight))}: ${Number(decades.toPrecision(3))} decades.</p>
        <p>From layer ${L} back to layer 1 the gradient passes ${L - 1} factors w${sub("j")} s′(z${sub("j−1")}), here
        from ${num(Math.min(...f))} to ${num(Math.max(...f))}, each at most 1/4; their product is ${num(product, "product")},
        below (1/4)<sup>${L - 1}</sup> = ${num(m ** (L - 1), "bound")}. The rest of the ratio is x / a${sub(L - 1)}
        = ${num(s.x / ly[L - 2].a)}, since ∂L/∂w₁ = δ₁ x and ∂L/∂w${sub(L)} = δ${sub(L)} a${sub(L - 1)}.</p>
        <p>So each extra sigmoid layer multiplies the first layer's gradient by at most 1/4 (at most |w|/4 with a
        weight w): ${DEEP} more layers make it at least 4<sup>${DEEP}</sup> = ${num(m ** -DEEP)} times smaller.</p>`;
    },
  },
  {
    title: "Remedy for the scale: a smaller target, a clipped gradient",
    setup: () => { setNetwork(exerciseState(PART_D)); setTraining({ lr: 5 }); runTraining(); },
    show: ["tr-panel"],
    text: () => `<p>Part (d)'s chain trained by gradient descent at learning rate η = 5 on its one sample
      (target 128), 300 steps: the run is drawn, set for you.</p>`,
    look: `the outcome above the loss curve, and the heat map of log${sub(10)}|∂L/∂w${sub("k")}| by layer and step.`,
    hand: [{ kind: "train", note: "divide the target, or clip the gradient's norm, and train again." }],
    question: "Divide the target by 128 and train again: does the training converge now? Would clipping the gradient's norm at 1 instead do the same?",
    answer: async () => {
      const s = exerciseState(PART_D), body = { ...traceBody(s), learning_rate: 5, steps: 300 };
      const [raw, scaled, clipped, b, small] = await Promise.all([
        api("/api/train", body), api("/api/train", { ...body, target_scale: 128 }),
        api("/api/train", { ...body, clip_norm: 1 }), trace(s), trace({ ...s, target: s.target / 128 })]);
      const [l1, , l3] = b.layers;
      return `<p>On the target itself: ${outcome(raw)}.</p>
        <p>Target divided by 128: ${outcome(scaled)}. Dividing the target shrinks the residual: at the start
        δ₃ = 2(y − ŷ/128) = ${num(small.layers[2].delta, "delta3_scaled")} instead of ${num(l3.delta)}.</p>
        <p>Gradient norm clipped at 1 instead: ${outcome(clipped)}.</p>
        <p>Both tame the overall blow-up, but both rescale every layer's gradient by the same factor: |∂L/∂w₁|
        stays ${times(l3.grad_weight, l1.grad_weight)} times smaller than |∂L/∂w₃|. The imbalance between layers
        needs per-parameter step sizes (RMSProp, Adam), a better initialization, or activations that do not
        saturate: the next step.</p>`;
    },
  },
  {
    title: "Remedy for depth: an activation that does not saturate",
    setup: () => setNetwork(deepState("relu")),
    show: ["chain-panel", "bars-box", "curve-box"],
    text: () => `<p>The ${DEEP}-layer chain of the depth step, every weight 1, now with ReLU in the hidden
      layers (the output keeps its sigmoid), set for you. relu(z) = max(0, z) has the slope 1 for z > 0.</p>`,
    look: "the bars, and the marks on the activation's derivative.",
    hand: [{ kind: "activation", note: "switch the hidden activation between sigmoid, tanh and relu." }],
    question: `What is each factor w${sub("j")} φ′(z${sub("j−1")}) now, and how does |∂L/∂w₁| compare with |∂L/∂w${sub(DEEP)}|?`,
    answer: async () => {
      const [r, sg] = await Promise.all([trace(deepState("relu")), trace(deepState("sigmoid"))]);
      const ly = r.layers, L = ly.length, f = ly.slice(1).map((l) => l.chain_factor);
      const lo = Math.min(...f), hi = Math.max(...f), sl = sg.layers;
      return `<p>Every factor is ${lo === hi ? num(lo, "factor") : `between ${num(lo, "factor")} and ${num(hi)}`}:
        each z${sub("k")} is positive, where relu′(z) = 1, so the gradient passes back undiminished.
        |∂L/∂w₁| / |∂L/∂w${sub(L)}| = ${num(Math.abs(ly[0].grad_weight / ly[L - 1].grad_weight), "ratio")}, against
        ${num(Math.abs(sl[0].grad_weight / sl[L - 1].grad_weight))} with sigmoid layers.</p>
        <p>An activation that does not saturate is one remedy for depth; the others are a better initialization
        (for wide networks the free explorer's theory panel shows where gradients keep their size, χ₁ = 1)
        and per-parameter step sizes (RMSProp, Adam). ReLU has its own failure: a unit with z ≤ 0 passes no
        gradient at all (in the free explorer, try a negative weight).</p>`;
    },
  },
];

// ---- the reader's hand: controls in the lesson card, wired to the explorer's state ------------
function field(labelHtml, input) {  // a label around its control: a box or a tick first
  const l = document.createElement("label");
  l.innerHTML = `<span>${labelHtml}</span>`;
  if (input.type === "radio" || input.type === "checkbox") { l.prepend(input); l.className = "check"; }
  else l.append(input);
  return l;
}
function input(type, id, attrs = {}) {
  const i = document.createElement("input");
  i.type = type;
  i.id = id;
  for (const [k, v] of Object.entries(attrs)) i.setAttribute(k, v);
  return i;
}
function onNumber(i, act) {  // a finite typed number, or nothing (the explorer's own checks name it)
  i.addEventListener("input", () => { if (Number.isFinite(i.valueAsNumber)) act(i.valueAsNumber); });
}
const HANDS = {
  weight: ({ k }) => {
    const range = input("range", `ls-w${k}-range`, { min: -6, max: 6, step: 0.01, "aria-label": `w${k} slider` });
    const box = input("number", `ls-w${k}`, { step: "any", "aria-label": `w${k}` });
    range.value = box.value = state.weights[k - 1];
    const set = (v) => { state.weights[k - 1] = v; syncForm(); update(); };
    range.addEventListener("input", () => { box.value = range.value; set(Number(range.value)); });
    onNumber(box, (v) => { range.value = String(v); set(v); });
    const row = document.createElement("div");
    row.className = "hand-row";
    const name = document.createElement("label");
    name.htmlFor = box.id;
    name.innerHTML = `w${sub(k)}`;
    row.append(name, range, box);
    return [row];
  },
  target: () => {
    const i = input("number", "ls-target", { step: "any" });
    i.value = state.target;
    onNumber(i, (v) => { state.target = v; syncForm(); update(); });
    return [field("target ŷ", i)];
  },
  depth: () => {
    const range = input("range", "ls-depth-range", { min: 1, max: 30, step: 1, "aria-label": "depth L slider" });
    const box = input("number", "ls-depth", { min: 1, max: 50, step: 1 });
    range.value = box.value = state.depth;
    const set = (d) => { if (d >= 1 && d <= 50 && d === Math.round(d)) { setDepth(d); update(); } };
    range.addEventListener("input", () => { box.value = range.value; set(Number(range.value)); });
    onNumber(box, (d) => { range.value = String(d); set(d); });
    const row = document.createElement("div");
    row.className = "hand-row";
    const name = document.createElement("label");
    name.htmlFor = box.id;
    name.textContent = "depth L";
    row.append(name, range, box);
    return [row];
  },
  chain: () => {
    const set = document.createElement("fieldset");
    set.innerHTML = "<legend>the chain</legend>";
    for (const [name, text] of [[PART_B, "classification (b): sigmoid output, cross-entropy"],
      [PART_D, "regression (c, d): no output sigmoid, squared error"]]) {
      const r = input("radio", `ls-chain-${name}`, { name: "ls-chain", value: name });
      r.checked = state.loss === presets[name].loss;
      r.addEventListener("change", () => setNetwork(exerciseState(name)));
      set.append(field(text, r));
    }
    return [set];
  },
  activation: () => {
    const s = document.createElement("select");
    s.id = "ls-activation";
    for (const a of ["sigmoid", "tanh", "relu"]) s.append(new Option(a, a));
    s.value = state.activation;
    s.addEventListener("change", () => { state.activation = s.value; syncForm(); update(); });
    return [field("hidden activation", s)];
  },
  train: () => {
    const scale = input("number", "ls-scale", { min: 0, step: "any" });
    scale.value = $("tr-scale").value;
    scale.addEventListener("input", () => { $("tr-scale").value = scale.value; refreshStale(); });
    const clip = input("checkbox", "ls-clip");
    clip.checked = $("tr-clip-on").checked;
    clip.addEventListener("change", () => { $("tr-clip-on").checked = clip.checked; refreshStale(); });
    const go = document.createElement("button");
    go.type = "button";
    go.id = "ls-train";
    go.textContent = "Train";
    go.addEventListener("click", runTraining);
    return [field("divide the target by", scale), field("clip the gradient's norm at 1", clip), go];
  },
};

// ---- the lesson card, the mode, the route -----------------------------------------------------
const lesson = { step: 0, fromNav: false, answerSeq: 0 };
function stepHref(n) { return n >= 1 && n <= STEPS.length ? `#lesson-${n}` : "#explore"; }
function renderStep(n) {
  const st = STEPS[n - 1], box = $("lesson");
  const steps = STEPS.map((s, i) => `<li><a href="${stepHref(i + 1)}"${i + 1 === n ? ' aria-current="step"' : ""}>` +
    `${i + 1}<span class="visually-hidden"> ${s.title}</span></a></li>`).join("");
  box.innerHTML = `
    <p class="step-of">Guided lesson · step ${n} of ${STEPS.length}</p>
    <h2 id="lesson-title" tabindex="-1">${st.title}</h2>
    <div class="lesson-text">${st.text()}</div>
    <p class="look"><b>Look at</b> ${st.look}</p>
    <div class="hand" role="group" aria-labelledby="hand-title">
      <p id="hand-title"><b>Your hand</b> ${st.hand[0].note}</p>
    </div>
    <p class="question" id="lesson-question"><b>Question.</b> ${st.question}</p>
    <button type="button" id="lesson-reveal" aria-expanded="false" aria-controls="lesson-answer">Show the answer</button>
    <div id="lesson-answer" class="answer" aria-live="polite" hidden></div>
    <nav class="step-nav" aria-label="lesson steps">
      ${n > 1 ? `<a rel="prev" href="${stepHref(n - 1)}">← Previous</a>` : ""}
      <ol>${steps}</ol>
      <a rel="next" href="${stepHref(n + 1)}">${n < STEPS.length ? "Next →" : "Free explorer →"}</a>
    </nav>`;
  const hand = box.querySelector(".hand");
  for (const h of st.hand) hand.append(...HANDS[h.kind](h));
  $("lesson-reveal").addEventListener("click", () => toggleAnswer(n));
}
async function toggleAnswer(n) {
  const b = $("lesson-reveal"), out = $("lesson-answer");
  if (b.getAttribute("aria-expanded") === "true") {
    b.setAttribute("aria-expanded", "false");
    b.textContent = "Show the answer";
    out.hidden = true;
    return;
  }
  b.setAttribute("aria-expanded", "true");
  b.textContent = "Hide the answer";
  out.hidden = false;
  if (out.dataset.ready === "true") return;
  const seq = ++lesson.answerSeq;
  out.textContent = "Computing the answer from the engine…";
  try {
    const html = await STEPS[n - 1].answer();
    if (seq !== lesson.answerSeq || lesson.step !== n) return;
    out.innerHTML = `<h3>Answer</h3>${html}`;
    out.dataset.ready = "true";
    updateScrollCues();
    setError("lesson", "");
    window.gradtraceLesson = { step: n, answers: ((window.gradtraceLesson || {}).answers || 0) + 1 };
  } catch (e) {
    if (seq !== lesson.answerSeq) return;
    out.textContent = `The answer could not be computed: ${e.message}`;
    b.setAttribute("aria-expanded", "false");
    b.textContent = "Show the answer";
    failed("lesson", e, () => toggleAnswer(n), [], "Lesson: ");
  }
}
function setMode(mode) {
  document.body.dataset.mode = mode;
  $("lesson").hidden = mode !== "lesson";
  for (const m of ["lesson", "explore"]) {
    if (m === mode) $(`mode-${m}`).setAttribute("aria-current", "page");
    else $(`mode-${m}`).removeAttribute("aria-current");
  }
}
function showPanels(ids) {
  document.querySelectorAll(".in-step").forEach((e) => e.classList.remove("in-step"));
  for (const id of ids) {
    const e = $(id);
    e.classList.add("in-step");
    const panel = e.closest("#view > section");
    if (panel) panel.classList.add("in-step");  // a half of the plots panel: the panel too
  }
}
const ready = () => Object.keys(presets).length > 0;
function showStep(n) {
  const first = lesson.step === 0;
  lesson.step = n;
  setMode("lesson");
  $("mode-lesson").href = stepHref(n);
  if (!ready()) return;  // the "gradtrace:ready" event sets it up
  STEPS[n - 1].setup();
  renderStep(n);  // after the setup: the reader's controls show the values it set
  showPanels(STEPS[n - 1].show);
  redrawCharts();  // the panels now shown take their box's width
  updateFormulas();  // (derived only while shown)
  if (!first && lesson.fromNav) $("lesson-title").focus();
  window.gradtraceLesson = { step: n, answers: 0 };
}
function route() {
  const h = location.hash;
  const m = /^#lesson-(\d+)$/.exec(h);
  if (h === "#explore") {
    setMode("explore");
    showPanels([]);
    redrawCharts();
    updateFormulas();
  } else if (m || h === "") {
    showStep(Math.max(1, Math.min(STEPS.length, m ? Number(m[1]) : 1)));
  }  // any other fragment (the skip link's #content) leaves the page as it is
}
function startLesson() {
  window.addEventListener("hashchange", () => { lesson.fromNav = true; route(); });
  document.addEventListener("gradtrace:ready", (e) => {
    if (document.body.dataset.mode !== "lesson") return;
    e.preventDefault();  // the lesson sets the network, not app.js's default
    showStep(lesson.step || 1);
  });
  route();
}
startLesson();
