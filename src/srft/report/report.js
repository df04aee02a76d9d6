// The SRFT report's renderer. Reads the JSON data block and builds the page with DOM calls.
// Rule: text from the data is only ever inserted with textContent / createTextNode (via el()),
// never as HTML, because trajectories contain arbitrary code and markup.
(function () {
  "use strict";

  var DATA = JSON.parse(document.getElementById("srft-data").textContent);
  var SVG_NS = "http://www.w3.org/2000/svg";
  var COLORS = {
    good: "#2e9e5b", unnecessary: "#d9a21b", mistake: "#d64545", recover: "#3b7dd8",
    unlabeled: "#a0a6b1", resolved: "#2e9e5b", unresolved: "#d64545", unknown: "#a0a6b1",
    trained: "#2e9e5b", masked: "#d64545", context: "#d9dde4"
  };
  var PALETTE = ["#4f46e5", "#0ea5e9", "#f97316", "#14b8a6", "#a855f7", "#e11d48", "#65a30d", "#64748b"];
  var COLLAPSE_CHARS = 1500;
  var COLLAPSE_LINES = 24;
  var LIST_LIMIT = 400;  // list items drawn at once; the filters narrow the rest

  // -- DOM helpers ------------------------------------------------------------------------------

  function el(tag, attrs) {
    var node = document.createElement(tag);
    setAttrs(node, attrs);
    for (var i = 2; i < arguments.length; i++) append(node, arguments[i]);
    return node;
  }
  function svg(tag, attrs) {
    var node = document.createElementNS(SVG_NS, tag);
    setAttrs(node, attrs);
    for (var i = 2; i < arguments.length; i++) append(node, arguments[i]);
    return node;
  }
  function setAttrs(node, attrs) {
    if (!attrs) return;
    Object.keys(attrs).forEach(function (k) {
      var v = attrs[k];
      if (v === null || v === undefined || v === false) return;
      if (k === "text") node.textContent = String(v);
      else if (k === "style" && typeof v === "object") Object.assign(node.style, v);
      else node.setAttribute(k, String(v));
    });
  }
  function append(node, child) {
    if (child === null || child === undefined || child === false) return;
    if (Array.isArray(child)) { child.forEach(function (c) { append(node, c); }); return; }
    node.appendChild(typeof child === "object" ? child : document.createTextNode(String(child)));
  }
  function fmtInt(n) { return n === null || n === undefined ? "–" : Number(n).toLocaleString("en-US"); }
  function fmtNum(n, d) { return n === null || n === undefined || isNaN(n) ? "–" : Number(n).toFixed(d === undefined ? 3 : d); }
  function fmtPct(x) { return x === null || x === undefined ? "–" : (100 * x).toFixed(1) + "%"; }
  function colorOf(key, i) { return COLORS[key] || PALETTE[(i || 0) % PALETTE.length]; }
  // One colour per model / policy name across every chart (the base model first).
  var NAMES = [];
  Object.keys((DATA.eval || {}).models || {}).concat(Object.keys(DATA.policies)).forEach(function (n) {
    if (NAMES.indexOf(n) < 0) NAMES.push(n);
  });
  function nameColor(name) { var i = NAMES.indexOf(name); return PALETTE[(i < 0 ? 0 : i) % PALETTE.length]; }
  function legend(items) {
    return el("div", { class: "legend" }, items.map(function (it) {
      return el("span", null, el("i", { style: { background: it.color } }), it.name);
    }));
  }
  function card(cls) {
    var c = el("div", { class: "card " + (cls || "") });
    for (var i = 1; i < arguments.length; i++) append(c, arguments[i]);
    return c;
  }

  // -- charts (inline SVG) ----------------------------------------------------------------------

  function niceMax(v) {
    if (!(v > 0)) return 1;
    var p = Math.pow(10, Math.floor(Math.log10(v)));
    var steps = [1, 2, 2.5, 4, 5, 8, 10];
    for (var i = 0; i < steps.length; i++) if (steps[i] * p >= v) return steps[i] * p;
    return 10 * p;
  }
  // An axis from lo to hi at round steps (1, 2, 2.5, 5 x 10^k), about four of them.
  function niceScale(lo, hi) {
    if (!(hi > lo)) hi = lo + 1;
    var raw = (hi - lo) / 4, p = Math.pow(10, Math.floor(Math.log10(raw)));
    var step = [1, 2, 2.5, 5, 10].map(function (m) { return m * p; }).filter(function (v) { return v >= raw; })[0];
    var min = Math.floor(lo / step + 1e-9) * step, max = Math.ceil(hi / step - 1e-9) * step;
    return { min: min, max: max, step: step };
  }
  function axisTicks(scale) {
    var out = [];
    for (var v = scale.min; v <= scale.max + scale.step / 2; v += scale.step) out.push(Math.round(v / scale.step) * scale.step);
    return out;
  }

  // Bars per category; `series` [{name, color, values}] stacked or side by side. Side-by-side
  // bars may be negative (changes against a reference); they grow from the zero line.
  function barChart(opts) {
    var W = 560, H = opts.height || 250, L = 48, R = 10, T = 14, B = opts.rotate ? 58 : 34;
    var cats = opts.categories, series = opts.series;
    var values = [].concat.apply([], series.map(function (se) { return se.values.map(function (v) { return v || 0; }); }));
    var totals = cats.map(function (_, i) {
      return opts.stacked
        ? series.reduce(function (s, se) { return s + (se.values[i] || 0); }, 0)
        : Math.max.apply(null, series.map(function (se) { return se.values[i] || 0; }).concat([0]));
    });
    var scale;
    if (opts.max) scale = { min: 0, max: opts.max, step: opts.max / tickCount(opts.max) };
    else if (opts.stacked || Math.min.apply(null, values.concat([0])) >= 0) {
      var top = niceMax(Math.max.apply(null, totals.concat([0])));
      scale = { min: 0, max: top, step: top / tickCount(top) };
    } else scale = niceScale(Math.min.apply(null, values.concat([0])), Math.max.apply(null, values.concat([0])));
    var plotW = W - L - R, plotH = H - T - B;
    function Y(v) { return T + plotH - plotH * (v - scale.min) / (scale.max - scale.min); }
    var root = svg("svg", { viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": opts.title || "chart" });
    axisTicks(scale).forEach(function (yv) {
      root.appendChild(svg("line", { x1: L, x2: W - R, y1: Y(yv), y2: Y(yv), stroke: "#eaecf0" }));
      root.appendChild(svg("text", { x: L - 6, y: Y(yv) + 4, "text-anchor": "end", text: opts.yFormat ? opts.yFormat(yv) : fmtAxis(yv) }));
    });
    var band = plotW / Math.max(1, cats.length);
    cats.forEach(function (cat, i) {
      var x0 = L + band * i, bw = band * 0.72, pad = band * 0.14;
      var acc = 0;
      series.forEach(function (se, j) {
        var v = se.values[i] || 0, x, w, y, h;
        if (opts.stacked) { x = x0 + pad; w = bw; y = Y(acc + v); h = Y(acc) - y; acc += v; }
        else { w = bw / series.length; x = x0 + pad + w * j; y = Y(Math.max(v, 0)); h = Math.abs(Y(v) - Y(0)); }
        var rect = svg("rect", { x: x, y: y, width: Math.max(0, w - (opts.stacked ? 0 : 1)), height: Math.max(0, h), fill: se.color, rx: opts.stacked ? 0 : 2 });
        rect.appendChild(svg("title", { text: se.name + " · " + cat + ": " + (opts.valueFormat ? opts.valueFormat(v) : fmtInt(v)) }));
        root.appendChild(rect);
        if (!opts.stacked && opts.labels && v) {
          root.appendChild(svg("text", { x: x + w / 2, y: v >= 0 ? y - 3 : y + h + 11, "text-anchor": "middle", text: opts.valueFormat ? opts.valueFormat(v) : fmtInt(v), style: "font-size:10px" }));
        }
      });
      var lx = x0 + band / 2, ly = T + plotH + 14;
      root.appendChild(opts.rotate
        ? svg("text", { x: lx, y: ly, "text-anchor": "end", transform: "rotate(-35 " + lx + " " + ly + ")", text: cat })
        : svg("text", { x: lx, y: ly, "text-anchor": "middle", text: cat }));
    });
    root.appendChild(svg("line", { x1: L, x2: W - R, y1: Y(Math.max(0, scale.min)), y2: Y(Math.max(0, scale.min)), stroke: "#98a2b3" }));
    if (opts.xTitle) root.appendChild(svg("text", { x: L + plotW / 2, y: H - 2, "text-anchor": "middle", text: opts.xTitle }));
    return root;
  }
  // Gridlines at round numbers: 4 for maxima of 1/2/4/8 x 10^k, 5 for 2.5/5/10 x 10^k.
  function tickCount(max) {
    var m = max / Math.pow(10, Math.floor(Math.log10(max)));
    return [2.5, 5, 10].indexOf(Math.round(m * 10) / 10) >= 0 ? 5 : 4;
  }
  function fmtAxis(v) {
    if (Math.abs(v) >= 1000) return (v / 1000).toFixed(Math.abs(v) >= 10000 ? 0 : 1) + "k";
    return String(Math.round(v * 1000) / 1000);
  }

  // Lines over numeric x; `series` [{name, color, points: [[x, y]]}].
  function lineChart(opts) {
    var W = 560, H = opts.height || 250, L = 48, R = 12, T = 10, B = 34;
    var pts = [].concat.apply([], opts.series.map(function (s) { return s.points; }));
    var xmax = Math.max.apply(null, pts.map(function (p) { return p[0]; }).concat([1]));
    var xmin = Math.min.apply(null, pts.map(function (p) { return p[0]; }).concat([xmax]));
    var ys = pts.map(function (p) { return p[1]; });
    var yhi = Math.max.apply(null, ys.concat([0])), ylo = Math.min.apply(null, ys.concat([yhi]));
    // Start the axis at zero unless the curves live in a narrow band far from it (a loss that
    // moves from 10.8 to 10.7 would otherwise be a flat line).
    var scale = ylo > 0 && yhi - ylo < 0.5 * yhi ? niceScale(ylo, yhi) : niceScale(0, yhi);
    var plotW = W - L - R, plotH = H - T - B;
    function X(x) { return L + (xmax === xmin ? plotW / 2 : plotW * (x - xmin) / (xmax - xmin)); }
    function Y(y) { return T + plotH - plotH * (y - scale.min) / (scale.max - scale.min); }
    var root = svg("svg", { viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": opts.title || "chart" });
    axisTicks(scale).forEach(function (yv) {
      root.appendChild(svg("line", { x1: L, x2: W - R, y1: Y(yv), y2: Y(yv), stroke: "#eaecf0" }));
      root.appendChild(svg("text", { x: L - 6, y: Y(yv) + 4, "text-anchor": "end", text: fmtAxis(yv) }));
    });
    [xmin, Math.round((xmin + xmax) / 2), xmax].forEach(function (xv) {
      root.appendChild(svg("text", { x: X(xv), y: T + plotH + 14, "text-anchor": "middle", text: fmtInt(xv) }));
    });
    root.appendChild(svg("line", { x1: L, x2: W - R, y1: T + plotH, y2: T + plotH, stroke: "#98a2b3" }));
    opts.series.forEach(function (s) {
      if (!s.points.length) return;
      var d = s.points.map(function (p, i) { return (i ? "L" : "M") + X(p[0]).toFixed(1) + " " + Y(p[1]).toFixed(1); }).join(" ");
      var path = svg("path", { d: d, fill: "none", stroke: s.color, "stroke-width": 2, "stroke-linejoin": "round" });
      path.appendChild(svg("title", { text: s.name }));
      root.appendChild(path);
      if (s.points.length <= 60) s.points.forEach(function (p) {
        var c = svg("circle", { cx: X(p[0]), cy: Y(p[1]), r: 2.5, fill: s.color });
        c.appendChild(svg("title", { text: s.name + " · step " + p[0] + ": loss " + fmtNum(p[1]) }));
        root.appendChild(c);
      });
    });
    if (opts.xTitle) root.appendChild(svg("text", { x: L + plotW / 2, y: H - 2, "text-anchor": "middle", text: opts.xTitle }));
    return root;
  }

  function chartCard(id, title, hint, body, legendItems, missing) {
    return card("chart", el("h3", { text: title }), el("p", { class: "hint", text: hint }),
      el("div", { id: id }, body || el("p", { class: "empty", text: "No data for this chart" + (missing ? ": " + missing : ".") })),
      legendItems ? legend(legendItems) : null);
  }

  // -- summary ----------------------------------------------------------------------------------

  function renderSummary(main) {
    var s = DATA.summary;
    var labelTotals = {}, labelled = 0;
    DATA.labels.forEach(function (l) {
      var c = s.label_counts[l] || {};
      labelTotals[l] = Object.keys(c).reduce(function (a, k) { return a + c[k]; }, 0);
      if (l !== "unlabeled") labelled += labelTotals[l];
    });
    var bar = el("div", { class: "labelbar" }, DATA.labels.map(function (l) {
      var frac = s.steps ? labelTotals[l] / s.steps : 0;
      var seg = el("span", { style: { width: (100 * frac) + "%", background: colorOf(l) } });
      seg.title = l + ": " + fmtInt(labelTotals[l]);
      return seg;
    }));
    var bo = s.by_outcome || {};
    var policies = Object.keys(DATA.policies);
    var models = DATA.eval ? Object.keys(DATA.eval.models || {}) : [];
    var stats = el("div", { class: "stats" },
      card("stat", el("div", { class: "k", text: "Trajectories" }), el("div", { class: "v", text: fmtInt(s.trajectories) }),
        el("div", { class: "sub", text: fmtInt(bo.resolved || 0) + " resolved · " + fmtInt(bo.unresolved || 0) + " unresolved · " + fmtInt(bo.unknown || 0) + " unknown" }),
        runsLine(s.runs)),
      card("stat", el("div", { class: "k", text: "Steps" }), el("div", { class: "v", text: fmtInt(s.steps) }),
        el("div", { class: "sub", text: (s.trajectories ? (s.steps / s.trajectories).toFixed(1) : "–") + " per trajectory" })),
      card("stat", el("div", { class: "k", text: "Mistake steps" }),
        el("div", { class: "v", text: labelled ? fmtPct(labelTotals.mistake / labelled) : "–" }),
        el("div", { class: "sub", text: fmtInt(labelled) + " steps labelled by the critic" }), bar),
      card("stat", el("div", { class: "k", text: "Verdicts" }),
        el("div", { class: "v", text: fmtInt((s.verdicts || {}).ok || 0) }),
        el("div", { class: "sub", text: "ok · " + fmtInt((s.verdicts || {}).failed || 0) + " failed · " + fmtInt((s.verdicts || {}).none || 0) + " not judged" + ((s.verdicts_unmatched || 0) ? " · " + fmtInt(s.verdicts_unmatched) + " for trajectories not in this corpus" : "") })),
      card("stat", el("div", { class: "k", text: "Policies" }), el("div", { class: "v", text: fmtInt(policies.length) }),
        el("div", { class: "sub", text: policies.join(", ") || "no datasets in this report" })),
      card("stat", el("div", { class: "k", text: "Models evaluated" }), el("div", { class: "v", text: fmtInt(models.length) }),
        el("div", { class: "sub", text: models.join(", ") || "no eval.json in this report" }))
    );
    var keys = Object.keys(DATA.settings || {});
    var settings = keys.length
      ? el("details", { class: "settings card", style: { marginTop: "12px" } },
        el("summary", { text: "Settings (" + keys.length + ")" }),
        el("table", { class: "kv" }, keys.map(function (k) {
          return el("tr", null, el("td", { text: k }), el("td", { text: DATA.settings[k] }));
        })))
      : null;
    main.appendChild(el("section", { id: "summary" }, el("h2", { text: "Summary" }),
      el("p", { class: "lead", text: "Generated " + DATA.generated + ". Labels: " + DATA.labels.join(", ") + "." }),
      stats, headline(), settings));
  }

  // One line per student: how its held-out NLL on good and mistake steps moved against the
  // first (base) model, the two numbers SRFT is about.
  function headline() {
    var models = DATA.eval ? DATA.eval.models || {} : {}, names = Object.keys(models);
    if (names.length < 2) return null;
    var ref = models[names[0]];
    var get = function (m, l) { return ((m.by_label || {})[l] || {}).nll_per_token; };
    var lines = names.slice(1).map(function (name) {
      var parts = ["good", "mistake"].filter(function (l) { return get(models[name], l) != null && get(ref, l) != null; })
        .map(function (l) { var d = get(models[name], l) - get(ref, l); return l + " steps " + (d >= 0 ? "+" : "") + fmtNum(d); });
      return parts.length ? el("li", null, el("b", { text: name }), ": held-out NLL per token on " + parts.join(", on ") + " against " + names[0] + ".") : null;
    }).filter(Boolean);
    return lines.length ? card("", el("ul", { id: "headline", style: { margin: "0", paddingLeft: "18px" } }, lines)) : null;
  }

  // -- charts section ---------------------------------------------------------------------------

  function renderCharts(main) {
    var s = DATA.summary;
    var outcomes = DATA.outcomes;
    var labels = DATA.labels.filter(function (l) {
      var c = s.label_counts[l] || {};
      return Object.keys(c).some(function (k) { return c[k] > 0; });
    });
    var byLabel = labels.length ? barChart({
      title: "steps by label", categories: labels, stacked: true,
      series: outcomes.map(function (o) {
        return { name: o, color: colorOf(o), values: labels.map(function (l) { return (s.label_counts[l] || {})[o] || 0; }) };
      })
    }) : null;

    var pos = s.labels_by_position || [];
    var posSeries = DATA.labels.map(function (l) {
      return { name: l, color: colorOf(l), values: pos.map(function (bin) {
        var tot = DATA.labels.reduce(function (a, k) { return a + (bin[k] || 0); }, 0);
        return tot ? (bin[l] || 0) / tot : 0;
      }) };
    });
    var anyPos = pos.some(function (bin) { return Object.keys(bin).some(function (k) { return bin[k] > 0; }); });
    var byPos = anyPos ? barChart({
      title: "label by position", stacked: true, max: 1, series: posSeries,
      categories: pos.map(function (_, i) { return (i * 10) + "–" + (i * 10 + 10) + "%"; }), rotate: true,
      yFormat: function (v) { return Math.round(v * 100) + "%"; }, valueFormat: fmtPct
    }) : null;

    var policies = Object.keys(DATA.policies).filter(function (p) { return Object.keys(DATA.policies[p].rows || {}).length; });
    var masked = policies.length ? barChart({
      title: "masked-token fraction", categories: outcomes, stacked: false, labels: true,
      yFormat: function (v) { return Math.round(v * 100) + "%"; }, valueFormat: fmtPct,
      max: niceMax(Math.max.apply(null, [0.05].concat([].concat.apply([], policies.map(function (p) {
        return outcomes.map(function (o) { return ((DATA.policies[p].by_outcome || {})[o] || {}).masked_fraction || 0; });
      }))))),
      series: policies.map(function (p, i) {
        return { name: p, color: nameColor(p), values: outcomes.map(function (o) {
          return ((DATA.policies[p].by_outcome || {})[o] || {}).masked_fraction || 0;
        }) };
      })
    }) : null;

    var lh = s.lengths || { edges: [], counts: {} };
    var lengths = lh.edges.length > 1 ? barChart({
      title: "trajectory lengths", stacked: true, rotate: true, xTitle: "",
      categories: lh.edges.slice(0, -1).map(function (e, i) { return lh.edges[i + 1] - 1 > e ? e + "–" + (lh.edges[i + 1] - 1) : String(e); }),
      series: outcomes.map(function (o) { return { name: o, color: colorOf(o), values: lh.counts[o] || [] }; })
    }) : null;

    var losses = Object.keys(DATA.policies).filter(function (p) { return (DATA.policies[p].loss || []).length; });
    var loss = losses.length ? lineChart({
      title: "training loss", xTitle: "optimizer step",
      series: losses.map(function (p) { return { name: p, color: nameColor(p), points: DATA.policies[p].loss }; })
    }) : null;

    var nll = null, nllModels = [], nllLabels = [];
    if (DATA.eval && DATA.eval.models) {
      nllModels = Object.keys(DATA.eval.models);
      nllLabels = DATA.labels.filter(function (l) { return nllModels.some(function (m) { return (DATA.eval.models[m].by_label || {})[l]; }); });
      if (nllLabels.length) nll = barChart({
        title: "held-out NLL per label", categories: nllLabels, stacked: false, labels: true,
        valueFormat: function (v) { return fmtNum(v, 2); },
        series: nllModels.map(function (m, i) {
          return { name: m, color: nameColor(m), values: nllLabels.map(function (l) {
            return ((DATA.eval.models[m].by_label || {})[l] || {}).nll_per_token || 0;
          }) };
        })
      });
    }

    var delta = null, deltaModels = nllModels.slice(1);
    if (nll && deltaModels.length) {
      var refModel = DATA.eval.models[nllModels[0]];
      delta = barChart({
        title: "change in NLL against the first model", categories: nllLabels, stacked: false, labels: true,
        valueFormat: function (v) { return (v >= 0 ? "+" : "") + fmtNum(v, 3); },
        series: deltaModels.map(function (m, i) {
          return { name: m, color: nameColor(m), values: nllLabels.map(function (l) {
            var v = ((DATA.eval.models[m].by_label || {})[l] || {}).nll_per_token, r = ((refModel.by_label || {})[l] || {}).nll_per_token;
            return v === undefined || v === null || r === undefined || r === null ? 0 : v - r;
          }) };
        })
      });
    }

    main.appendChild(el("section", { id: "charts" }, el("h2", { text: "Charts" }),
      el("div", { class: "grid2" },
        chartCard("chart-labels", "Steps by critic label", "How many steps the critic gave each label, split by the trajectory's outcome.", byLabel,
          outcomes.map(function (o) { return { name: o, color: colorOf(o) }; })),
        chartCard("chart-position", "Label by position in the trajectory", "Share of each label among steps in each tenth of a trajectory.", byPos,
          DATA.labels.map(function (l) { return { name: l, color: colorOf(l) }; }), "no steps have critic labels."),
        chartCard("chart-masked", "Masked-token fraction by outcome", "Assistant tokens in masked steps / all assistant tokens, per policy's dataset.", masked,
          policies.map(function (p) { return { name: p, color: nameColor(p) }; }), "no dataset folders were given (srft report --dataset POLICY=DIR)."),
        chartCard("chart-lengths", "Trajectory lengths", "Number of steps per trajectory.", lengths,
          outcomes.map(function (o) { return { name: o, color: colorOf(o) }; })),
        chartCard("chart-nll", "Held-out NLL per step label", "Mean negative log-likelihood per assistant token (lower = the model finds these actions more likely).", nll,
          nllModels.map(function (m) { return { name: m, color: nameColor(m) }; }), "no eval.json was given (srft evaluate nll, then srft report --eval)."),
        delta ? chartCard("chart-nll-delta", "Change in held-out NLL against " + nllModels[0], "Per step label: a student's NLL per token minus " + nllModels[0] + "'s. SRFT aims for a drop on good steps and a smaller drop (or a rise) on mistakes than SFT.", delta,
          deltaModels.map(function (m) { return { name: m, color: nameColor(m) }; })) : null,
        chartCard("chart-loss", "Training loss", "Loss per optimizer step, one line per policy.", loss,
          losses.map(function (p) { return { name: p, color: nameColor(p) }; }), "no training runs were given (srft report --run POLICY=DIR).")
      )));
  }

  // -- comparison -------------------------------------------------------------------------------

  function renderComparison(main) {
    var section = el("section", { id: "comparison" }, el("h2", { text: "Policies compared" }),
      el("p", { class: "lead", text: "One student per policy on the same corpus and critic: what each trained on, how training went, and the held-out NLL per step label." }));
    var names = Object.keys(DATA.policies);
    var models = DATA.eval ? DATA.eval.models || {} : {};
    var labels = DATA.labels.filter(function (l) { return Object.keys(models).some(function (m) { return (models[m].by_label || {})[l]; }); });
    if (names.length) {
      var head = ["policy", "rows", "resolved", "unresolved", "dropped", "tokens", "trained tok", "masked tok", "masked %", "final loss"]
        .concat(labels.map(function (l) { return "NLL " + l; }));
      var table = el("table", { class: "data", id: "policy-table" }, el("tr", null, head.map(function (h) { return el("th", { text: h }); })));
      names.forEach(function (p) {
        var P = DATA.policies[p], bo = P.by_outcome || {};
        var sum = function (k) { return Object.keys(bo).reduce(function (a, o) { return a + (bo[o][k] || 0); }, 0); };
        var trained = sum("trained"), maskedTok = sum("masked");
        var dropped = Object.keys(P.dropped || {}).reduce(function (a, o) { return a + P.dropped[o]; }, 0);
        var lossPts = P.loss || [];
        var m = models[p];
        table.appendChild(el("tr", null,
          el("td", null, el("b", { text: p })),
          el("td", { text: fmtInt(sum("rows")) }),
          el("td", { text: fmtInt((bo.resolved || {}).rows || 0) }),
          el("td", { text: fmtInt((bo.unresolved || {}).rows || 0) }),
          el("td", { text: fmtInt(dropped) }),
          el("td", { text: fmtInt(sum("tokens")) }),
          el("td", { text: fmtInt(trained) }),
          el("td", { text: fmtInt(maskedTok) }),
          el("td", { text: trained + maskedTok ? fmtPct(maskedTok / (trained + maskedTok)) : "–" }),
          el("td", { text: lossPts.length ? fmtNum(lossPts[lossPts.length - 1][1]) : "–" }),
          labels.map(function (l) { return el("td", { text: m ? fmtNum(((m.by_label || {})[l] || {}).nll_per_token) : "–" }); })
        ));
      });
      section.appendChild(card("", table));
    } else {
      section.appendChild(card("", el("p", { class: "empty", text: "No policy datasets or training runs in this report." })));
    }
    if (Object.keys(models).length) {
      var modelNames = Object.keys(models), ref = models[modelNames[0]];
      var nt = el("table", { class: "data", id: "nll-table" },
        el("tr", null, ["model", "rows", "overall"].concat(labels).map(function (h) { return el("th", { text: h }); })));
      modelNames.forEach(function (name, i) {
        var m = models[name];
        nt.appendChild(el("tr", null, el("td", null, el("b", { text: name })), el("td", { text: fmtInt(m.rows) }),
          el("td", { text: fmtNum((m.overall || {}).nll_per_token) }),
          labels.map(function (l) {
            var v = ((m.by_label || {})[l] || {}).nll_per_token, r = ((ref.by_label || {})[l] || {}).nll_per_token;
            var td = el("td", { text: fmtNum(v) });
            if (i > 0 && v !== undefined && v !== null && r !== undefined && r !== null) {
              var d = v - r;
              // SRFT should make mistakes less likely (NLL up) and keep the rest likely (NLL down).
              var good = l === "mistake" ? d > 0 : d < 0;
              td.className = good ? "better" : "worse";
              td.appendChild(el("span", { class: "delta", text: (d >= 0 ? "+" : "") + fmtNum(d) }));
            }
            return td;
          })));
      });
      var d = DATA.eval.dataset || {};
      section.appendChild(card("", el("h3", { text: "Held-out NLL per token, by step label", style: { margin: "0 0 8px", fontSize: "14px" } }), nt,
        el("p", { class: "note", text: "Differences are against " + modelNames[0] + ". Rows evaluated: " + fmtInt(d.rows_evaluated) + " of " + fmtInt(d.rows_read) + (d.rows_skipped ? " (" + fmtInt(d.rows_skipped) + " skipped, listed in eval.json)" : "") + ". Green: lower NLL on good/recover/unnecessary steps, higher on mistakes." })));
    }
    main.appendChild(section);
  }

  // -- the critic against the truth (toy runs know every step's true label) --------------------

  function renderCriticQuality(main) {
    var Q = DATA.critic_quality;
    if (!Q || !Q.per_label) return;
    var t = el("table", { class: "data", id: "critic-quality-table" }, el("tr", null,
      ["true label", "steps", "precision", "recall", "F1"].map(function (h) { return el("th", { text: h }); })));
    Object.keys(Q.per_label).forEach(function (label) {
      var m = Q.per_label[label];
      if (!m.support && !m.precision) return;  // a label neither in the truth nor predicted
      t.appendChild(el("tr", null, el("td", null, el("b", { text: label })), el("td", { text: fmtInt(m.support) }),
        el("td", { text: fmtPct(m.precision) }), el("td", { text: fmtPct(m.recall) }), el("td", { text: fmtNum(m.f1, 2) })));
    });
    var mv = Q.mistake_vs_rest || {};
    main.appendChild(el("section", { id: "critic-quality" }, el("h2", { text: "The critic against the truth" }),
      el("p", { class: "lead", text: "These trajectories come with every step's true label, so the critic can be scored: it agrees on " +
        fmtPct(Q.accuracy) + " of " + fmtInt(Q.steps) + " steps; on the label that decides the masking (mistake vs the rest) precision " +
        fmtPct(mv.precision) + ", recall " + fmtPct(mv.recall) + ". The policy rows built from the true labels (labels: truth) show what a perfect critic would change." }),
      card("", t)));
  }

  // -- closed loop: toy-environment rollouts --------------------------------------------------

  function fmtRate(r) { return r ? fmtPct(r.rate) + " [" + fmtPct(r.lo) + ", " + fmtPct(r.hi) + "]" : "–"; }
  function fmtDiff(d) {
    if (!d) return "–";
    var s = function (x) { return (x >= 0 ? "+" : "") + (100 * x).toFixed(1); };
    return s(d.diff) + " pp [" + s(d.lo) + ", " + s(d.hi) + "]";
  }

  function renderRollouts(main) {
    var R = DATA.rollouts;
    if (!R || !R.modes) return;
    var section = el("section", { id: "rollouts" }, el("h2", { text: "Closed loop: the students as agents" }),
      el("p", { class: "lead", text: "Each model played the same " + fmtInt(R.episodes) + " fresh toy episodes (seed " + R.seed + ", at most " + R.step_limit + " turns): success is the environment's own verdict, with a 95% Wilson interval; differences are paired by episode." }));
    Object.keys(R.modes).forEach(function (mode) {
      var M = R.modes[mode], names = Object.keys(M.students), ref = names[0];
      var t = el("table", { class: "data rollout-table" }, el("tr", null,
        ["model", "success [95% CI]", "vs " + ref + " [95% CI]", "submitted", "errors / step", "wrong-edit episodes", "mean steps"]
          .map(function (h) { return el("th", { text: h }); })));
      names.forEach(function (name, i) {
        var S = M.students[name], d = i ? M.paired[ref + " - " + name] : null;
        // the pair is stored as ref - name: flip it so the column reads name - ref
        var flipped = d ? { diff: -d.diff, lo: -d.hi, hi: -d.lo } : null;
        var cell = el("td", { text: i ? fmtDiff(flipped) : "reference" });
        if (flipped) cell.className = flipped.lo > 0 ? "better" : flipped.hi < 0 ? "worse" : "";
        t.appendChild(el("tr", null, el("td", null, el("b", { text: name })), el("td", { text: fmtRate(S.success) }), cell,
          el("td", { text: fmtPct(S.submitted) }), el("td", { text: fmtNum(S.error_rate, 2) }),
          el("td", { text: fmtPct(S.wrong_edit_episodes) }), el("td", { text: fmtNum(S.mean_steps, 1) })));
      });
      section.appendChild(card("", el("h3", { text: mode === "greedy" ? "Greedy decoding" : "Sampled, " + mode, style: { margin: "0 0 8px", fontSize: "14px" } }), t));
    });
    main.appendChild(section);
  }

  // -- agent-evaluation hand-off ---------------------------------------------------------------

  function renderHandoffs(main) {
    var names = Object.keys(DATA.handoffs || {});
    if (!names.length) return;
    main.appendChild(el("section", { id: "handoff" }, el("h2", { text: "Agent evaluation (hand-off)" }),
      el("p", { class: "lead", text: "Serve the student with vLLM, run mini-swe-agent on SWE-bench with it, score the patches with the SWE-bench harness (needs Docker)." }),
      names.map(function (name) {
        var h = DATA.handoffs[name], c = h.commands || {};
        return card("handoff", el("h3", { text: name + " · " + h.model_dir + (h.merged ? " (LoRA merged)" : ""), style: { margin: "0 0 6px", fontSize: "14px" } }),
          ["serve", "agent", "harness"].map(function (step) {
            return c[step] ? el("div", { class: "part action" }, el("div", { class: "k", text: step }), el("pre", { text: c[step] })) : null;
          }));
      })));
  }

  // Runs per instance and pass@k, shown where instances were run more than once.
  function runsLine(runs) {
    if (!runs || !runs.with_several_runs) return null;
    var k = Object.keys(runs.pass_at_k || {}).map(function (key) {
      var v = runs.pass_at_k[key];
      return "pass@" + key + " " + (v === null ? "–" : v.toFixed(3));
    });
    return el("div", { class: "sub", id: "runs-line", text: fmtInt(runs.instances) + " instances, up to " + runs.max_runs + " runs each" + (k.length ? " · " + k.join(" · ") : "") });
  }

  // -- trajectory browser -----------------------------------------------------------------------

  var state = { outcome: "", label: "", query: "", policy: "", selected: null };
  var haystacks = {};

  function haystack(t) {
    if (!haystacks[t.id]) {
      var parts = [t.id, t.instance_id || "", t.task];
      t.steps.forEach(function (s) {
        parts.push(s.thought, s.action, s.reason || "");
        s.observations.forEach(function (o) { parts.push(o.text); });
      });
      haystacks[t.id] = parts.join("\n").toLowerCase();
    }
    return haystacks[t.id];
  }
  function stepLabel(s) { return s.label || "unlabeled"; }
  function matches(t) {
    if (state.outcome && t.outcome !== state.outcome) return false;
    if (state.label && !t.steps.some(function (s) { return stepLabel(s) === state.label; })) return false;
    if (state.query && haystack(t).indexOf(state.query.toLowerCase()) < 0) return false;
    return true;
  }

  // Text with the search query marked; built from text nodes and <mark> elements only.
  function highlighted(text) {
    var frag = document.createDocumentFragment();
    var q = state.query.toLowerCase();
    if (!q) { frag.appendChild(document.createTextNode(text)); return frag; }
    var lower = text.toLowerCase(), at = 0, i;
    while ((i = lower.indexOf(q, at)) >= 0) {
      frag.appendChild(document.createTextNode(text.slice(at, i)));
      frag.appendChild(el("mark", { text: text.slice(i, i + q.length) }));
      at = i + q.length;
    }
    frag.appendChild(document.createTextNode(text.slice(at)));
    return frag;
  }

  // A block of text, collapsed to its first lines when long.
  function textBlock(text, tag, cls) {
    var lines = text.split("\n");
    var make = function (t) { var n = el(tag || "pre", { class: cls }); n.appendChild(highlighted(t)); return n; };
    if (text.length <= COLLAPSE_CHARS && lines.length <= COLLAPSE_LINES) return make(text);
    var preview = make(lines.slice(0, 8).join("\n").slice(0, 600) + "\n…");
    var details = el("details", { class: "long" },
      el("summary", { text: "show all " + fmtInt(lines.length) + " lines (" + fmtInt(text.length) + " characters)" }), make(text));
    details.addEventListener("toggle", function () { preview.style.display = details.open ? "none" : ""; });
    return el("div", null, preview, details);
  }

  function policySpans(t) {
    var P = state.policy && DATA.policies[state.policy];
    return P && P.rows ? P.rows[t.id] || null : null;
  }

  function tokenMap(t) {
    var row = policySpans(t);
    if (!state.policy) return null;
    if (!row) return el("div", { class: "tokmap" }, el("div", { class: "cap", text: "Not in the " + state.policy + " dataset (the policy dropped this trajectory)." }));
    var bar = el("div", { class: "bar", title: "token map" });
    var at = 0, total = Math.max(1, row.tokens);
    row.spans.forEach(function (sp) {
      var start = sp[1], end = sp[2], trained = sp[3];
      if (start > at) bar.appendChild(el("span", { style: { width: (100 * (start - at) / total) + "%", background: COLORS.context } }));
      var seg = el("span", { style: { width: (100 * (end - start) / total) + "%", background: trained ? COLORS.trained : COLORS.masked } });
      seg.title = "step " + sp[0] + ": " + (end - start) + " tokens " + (trained ? "trained" : "masked");
      bar.appendChild(seg);
      at = end;
    });
    if (total > at) bar.appendChild(el("span", { style: { width: (100 * (total - at) / total) + "%", background: COLORS.context } }));
    var maskedTok = row.spans.reduce(function (a, sp) { return a + (sp[3] ? 0 : sp[2] - sp[1]); }, 0);
    return el("div", { class: "tokmap" }, bar, el("div", { class: "cap", text:
      state.policy + ": " + fmtInt(row.tokens) + " tokens, " + fmtInt(row.trained) + " trained, " + fmtInt(maskedTok) + " masked (assistant tokens of masked steps); grey = context (system, task, observations)" }),
      legend([{ name: "trained", color: COLORS.trained }, { name: "masked", color: COLORS.masked }, { name: "context", color: COLORS.context }]));
  }

  function renderStep(t, s, spanByIndex) {
    var label = stepLabel(s);
    var span = spanByIndex ? spanByIndex[s.index] : undefined;
    var tok = null;
    if (state.policy) {
      tok = span
        ? el("span", { class: "tok " + (span[3] ? "trained" : "masked"), text: (span[3] ? "trained " : "masked ") + fmtInt(span[2] - span[1]) + " tok" })
        : el("span", { class: "tok absent", text: spanByIndex ? "cut off (beyond max length)" : "not in dataset" });
    }
    var dim = state.label && label !== state.label;
    var body = el("div", { class: "body" });
    if (s.thought) body.appendChild(el("div", { class: "part thought" }, el("div", { class: "k", text: "thought" }), textBlock(s.thought, "div", "txt")));
    if (s.action) body.appendChild(el("div", { class: "part action" }, el("div", { class: "k", text: "action" }), textBlock(s.action)));
    s.observations.forEach(function (o) {
      var bad = (o.exit_code !== null && o.exit_code !== undefined && o.exit_code !== 0) || o.interrupt;
      var k = "observation (" + o.role + ")" + (o.exit_code !== null && o.exit_code !== undefined ? " · exit " + o.exit_code : "") + (o.interrupt ? " · " + o.interrupt : "");
      body.appendChild(el("div", { class: "part obs" + (bad ? " error" : "") }, el("div", { class: "k", text: k }), textBlock(o.text)));
    });
    return el("div", { class: "step" + (dim ? " dim" : "") + (span && !span[3] ? " masked" : ""), "data-label": label, "data-index": s.index, style: { borderLeftColor: colorOf(label) } },
      el("div", { class: "head" },
        el("span", { class: "n", text: "Step " + s.index }),
        el("span", { class: "chip label-chip", text: label, style: { color: colorOf(label), borderColor: colorOf(label) } }),
        el("span", { class: "reason", text: s.reason || "" }),
        tok),
      body);
  }

  function renderDetail(container, t) {
    container.textContent = "";
    if (!t) { container.appendChild(el("p", { class: "empty", text: "No trajectory matches the filters." })); return; }
    var spans = policySpans(t), byIndex = null;
    if (spans) { byIndex = {}; spans.spans.forEach(function (sp) { byIndex[sp[0]] = sp; }); }
    var v = t.verdict;
    container.appendChild(el("div", null,
      el("h3", { id: "detail-id", text: t.id }),
      el("div", { class: "dmeta" },
        el("span", { class: "badge", text: t.outcome, style: { background: colorOf(t.outcome) } }),
        t.instance_id ? el("span", { text: "task " + t.instance_id }) : null,
        el("span", { text: t.format }),
        t.model ? el("span", { text: "model " + t.model }) : null,
        el("span", { text: t.steps.length + " steps" }),
        v ? el("span", { class: v.status === "failed" ? "err" : "", text: "critic " + v.critic + ": " + v.status + (v.error ? " (" + v.error + ")" : "") })
          : el("span", { text: "not judged by a critic" })),
      tokenMap(t),
      t.task ? el("div", { class: "task part" }, el("div", { class: "k", text: "task" }), textBlock(t.task)) : null,
      el("div", { id: "steps" }, t.steps.map(function (s) { return renderStep(t, s, byIndex); }))));
  }

  function renderBrowser(main) {
    var trajectories = DATA.trajectories;
    var opt = function (value, text) { return el("option", { value: value, text: text }); };
    var fOutcome = el("select", { id: "f-outcome", "aria-label": "outcome" }, opt("", "all outcomes"), DATA.outcomes.map(function (o) { return opt(o, o); }));
    var fLabel = el("select", { id: "f-label", "aria-label": "label" }, opt("", "any label"), DATA.labels.map(function (l) { return opt(l, "has " + l + " step"); }));
    var withRows = Object.keys(DATA.policies).filter(function (p) { return Object.keys(DATA.policies[p].rows || {}).length; });
    var fPolicy = withRows.length ? el("select", { id: "f-policy", "aria-label": "policy" }, withRows.map(function (p) { return opt(p, "tokens: " + p); })) : null;
    state.policy = withRows.indexOf("srft") >= 0 ? "srft" : (withRows[0] || "");
    if (fPolicy) fPolicy.value = state.policy;
    var fSearch = el("input", { id: "f-search", type: "search", placeholder: "Search thoughts, actions, observations, ids…", "aria-label": "search" });
    var count = el("span", { class: "count", id: "f-count" });
    var list = el("div", { class: "card tlist", id: "tlist" });
    var detail = el("div", { class: "card detail", id: "detail" });

    function refresh() {
      var shown = trajectories.filter(matches);
      count.textContent = shown.length + " of " + trajectories.length + " trajectories";
      list.textContent = "";
      var lastGroup = null;
      shown.slice(0, LIST_LIMIT).forEach(function (t) {
        // Runs of one instance sit together (pass@k sampling); head each group of several.
        var group = t.instance_id || t.id;
        if (t.runs > 1 && group !== lastGroup) {
          list.appendChild(el("div", { class: "tgroup", "data-instance": group, text: group + " · " + t.runs + " runs" }));
        }
        lastGroup = group;
        var item = el("div", { class: "titem" + (state.selected === t.id ? " active" : ""), "data-id": t.id, "data-outcome": t.outcome },
          el("div", { class: "name", text: t.id }),
          el("div", { class: "meta" }, el("span", { class: "badge", text: t.outcome, style: { background: colorOf(t.outcome) } }), el("span", { text: t.steps.length + (t.steps.length === 1 ? " step" : " steps") })),
          el("div", { class: "strip" }, t.steps.map(function (s) {
            var sq = el("span", { style: { background: colorOf(stepLabel(s)) } });
            sq.title = "step " + s.index + ": " + stepLabel(s);
            return sq;
          })));
        item.addEventListener("click", function () { select(t.id); });
        list.appendChild(item);
      });
      if (shown.length > LIST_LIMIT) {
        list.appendChild(el("p", { class: "note", text: "Showing the first " + LIST_LIMIT + " of " + shown.length + " matches; filter or search to narrow them." }));
      }
      if (!shown.some(function (t) { return t.id === state.selected; })) state.selected = shown.length ? shown[0].id : null;
      Array.prototype.forEach.call(list.children, function (n) { n.classList.toggle("active", n.getAttribute("data-id") === state.selected); });
      renderDetail(detail, trajectories.filter(function (t) { return t.id === state.selected; })[0] || null);
    }
    function select(id) { state.selected = id; refresh(); }

    fOutcome.addEventListener("change", function () { state.outcome = fOutcome.value; refresh(); });
    fLabel.addEventListener("change", function () { state.label = fLabel.value; refresh(); });
    if (fPolicy) fPolicy.addEventListener("change", function () { state.policy = fPolicy.value; refresh(); });
    var timer = null;
    fSearch.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () { state.query = fSearch.value.trim(); refresh(); }, 120);
    });

    main.appendChild(el("section", { id: "browser" }, el("h2", { text: "Trajectories" }),
      el("p", { class: "lead", text: "Each step with its thought, action and observations; the border colour is the critic's label, the tag says whether the policy trained or masked the step's tokens." }),
      DATA.summary.browser_omitted ? el("p", { class: "note", id: "browser-omitted", text: fmtInt(DATA.summary.browser_omitted) + " trajectories are counted in the charts but left out of this browser (max_trajectories); write the report with a higher limit to see them." }) : null,
      el("div", { class: "toolbar" }, fSearch, fOutcome, fLabel, fPolicy, count),
      el("div", { class: "browser" }, list, detail)));
    var wanted = decodeURIComponent((location.hash.match(/^#t=(.*)$/) || [])[1] || "");
    state.selected = trajectories.some(function (t) { return t.id === wanted; }) ? wanted : null;
    refresh();
    if (state.selected === wanted && wanted) document.getElementById("browser").scrollIntoView();
  }

  var main = document.getElementById("app");
  renderSummary(main);
  renderCharts(main);
  renderComparison(main);
  renderCriticQuality(main);
  renderRollouts(main);
  renderHandoffs(main);
  renderBrowser(main);
  document.documentElement.setAttribute("data-ready", "1");
})();
