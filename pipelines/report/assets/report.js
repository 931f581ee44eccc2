/* The run report's page script: filters over the index, records loaded a page at a time.
 *
 * Data arrives as scripts that call REPORT.summary / .index / .page / .text: Chromium forbids fetch() from
 * file://, but a <script src> added on demand loads, so the report opens from disk with no server. Record i is
 * entry i % page_size of data/pages/p<i / page_size>.js. An index row is [id, kind ("a" accepted | "d" dead
 * letter), family, stage, reason, checkset, key of the first thumbnail ("" for none)], the four numbers into the
 * summary's facet tables (-1: none); a thumbnail's file is thumbs/<first two digits of its key>/<key>.jpg.
 */
"use strict";

const REPORT = (() => {
  const LIST = 50;  // list rows per screen
  const KEEP = 30;  // record pages kept in memory
  const FACETS = ["family", "stage", "reason", "check"];
  const KEYWORDS = "False|None|True|and|as|assert|async|await|break|class|continue|def|del|elif|else|except|" +
    "finally|for|from|global|if|import|in|is|lambda|nonlocal|not|or|pass|raise|return|try|while|with|yield";
  const BUILTINS = "abs|all|any|dict|enumerate|float|int|isinstance|len|list|max|min|open|print|range|round|" +
    "set|sorted|str|sum|tuple|zip";
  const PYTHON = new RegExp([
    String.raw`(#[^\n]*)`,
    String.raw`((?:\b[rRbBuUfF]{1,2})?(?:"""[\s\S]*?"""|'''[\s\S]*?'''|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'))`,
    String.raw`(\b(?:0[xXoObB][\da-fA-F_]+|\d[\d_]*(?:\.\d*)?(?:[eE][+-]?\d+)?j?)\b)`,
    String.raw`(\b(?:${KEYWORDS})\b)`,
    String.raw`(\b(?:${BUILTINS})\b)(?=\()`,
  ].join("|"), "g");
  const TOKEN_CLASS = ["c", "s", "n", "k", "b"];

  let S = null;  // the summary (data/summary.js)
  let rows = [];  // the index (data/index.js)
  let checksets = [];
  const ids = new Map();  // id -> ordinals with that id, in order
  const pages = new Map();
  const texts = [];
  const inFlight = new Map();
  const st = { hits: [], at: 0, open: -1, run: 0 };
  const $ = (id) => document.getElementById(id);

  // ---- helpers ---------------------------------------------------------------------------------------------
  const ESC = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
  const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ESC[c]);
  const pad = (n, width) => String(n).padStart(width, "0");
  const kb = (n) => (n >= 1048576 ? `${(n / 1048576).toFixed(1)} MB` : `${Math.ceil(n / 1024)} kB`);
  const facet = (name, n) => (n >= 0 ? S.site.facets[name].values[n] : "");

  function highlight(code) {
    let out = "", last = 0;
    for (const m of code.matchAll(PYTHON)) {
      const cls = TOKEN_CLASS[m.slice(1).findIndex((g) => g !== undefined)];
      out += esc(code.slice(last, m.index)) + `<span class="${cls}">${esc(m[0])}</span>`;
      last = m.index + m[0].length;
    }
    return out + esc(code.slice(last));
  }

  function script(src) {
    return new Promise((resolve, reject) => {
      const tag = document.createElement("script");
      tag.src = src;
      tag.onload = () => { tag.remove(); resolve(); };
      tag.onerror = () => { tag.remove(); reject(new Error(`cannot load ${src}`)); };
      document.head.appendChild(tag);
    });
  }

  function once(src) {  // one load per file in flight
    if (!inFlight.has(src)) inFlight.set(src, script(src).finally(() => inFlight.delete(src)));
    return inFlight.get(src);
  }

  async function page(n) {
    if (!pages.has(n)) await once(`data/pages/p${pad(n, 5)}.js`);
    const records = pages.get(n);
    pages.delete(n);
    pages.set(n, records);  // most recently used last
    while (pages.size > KEEP) pages.delete(pages.keys().next().value);
    return records;
  }

  async function loadTexts() {
    const chunks = Math.ceil(rows.length / S.site.text_chunk);
    const missing = [];
    for (let n = 0; n < chunks; n++) if (!texts[n]) missing.push(once(`data/text/t${pad(n, 4)}.js`));
    await Promise.all(missing);
  }

  function linkOf(i) {
    const id = rows[i][0], nth = ids.get(id).indexOf(i);
    return `#id=${encodeURIComponent(id)}${nth > 0 ? `&n=${nth}` : ""}`;
  }

  // ---- summary ---------------------------------------------------------------------------------------------
  function table(counts, name, label) {
    const byCount = (a, b) => counts[b] - counts[a] || a.localeCompare(b);  // facets: the largest first
    const keys = Object.keys(counts || {}).sort(name ? byCount : (a, b) => a.localeCompare(b));
    if (!keys.length) return `<h4>${label}</h4><p>none</p>`;
    const body = keys.map((k) => {
      const attrs = name ? ` data-facet="${name}" data-value="${esc(name === "reason" ? k.split("/").pop() : k)}"` : "";
      return `<tr${attrs}><td>${esc(k)}</td><td class="n">${esc(counts[k])}</td></tr>`;
    }).join("");
    return `<h4>${label}</h4><table>${body}</table>`;
  }

  function flat(obj, prefix = "") {  // nested stats as one level of "a.b" keys
    const out = {};
    for (const [k, v] of Object.entries(obj || {})) {
      if (v && typeof v === "object" && !Array.isArray(v)) Object.assign(out, flat(v, `${prefix}${k}.`));
      else out[prefix + k] = Array.isArray(v) ? v.join(", ") : v;
    }
    return out;
  }

  function renderSummary() {
    const run = S.run, t = S.totals, suite = S.shard_checks;
    $("run").innerHTML = `<h1>${esc(run.name)}<small>${esc(run.pipeline || "")}</small></h1>` +
      `<p>${esc(run.created_at || "")} · commit ${esc(run.git_commit || "?")} · config ${esc(run.config_hash || "?")}` +
      ` · python ${esc(run.python || "?")}</p>`;
    document.title = `${run.name} · run report`;
    const total = (label, v) => `<div class="total"><b>${esc(v ?? "?")}</b>${label}</div>`;
    const checks = {};
    for (const [name, v] of Object.entries(S.checks)) checks[name] = `${v.passed} passed, ${v.failed} failed`;
    const failed = (suite.failures || []).map((f) => `<li class="err">${esc(f)}</li>`).join("");
    const docs = suite.docs ? ` · <a href="${esc(suite.docs)}">Data Docs</a>` : "";
    const verdict = suite.passed === undefined || suite.passed === null ? "not run" : suite.passed ? "PASSED" : "FAILED";
    const sections = [
      `<div class="totals">${total("in", t.records_in)}${total("accepted", t.accepted)}` +
        `${total("dead-lettered", t.dead_lettered)}${total("accounted", t.holds ? "yes" : "NO")}</div>`,
      table(S.family, "family", "accepted by family"),
      table(S.stage, "stage", "dead letters by stage"),
      table(S.reason, "reason", "dead letters by stage/reason"),
      `<h4>checks</h4><table>${Object.entries(checks).map(([k, v]) =>
        `<tr><td>${esc(k)}</td><td>${esc(v)}</td></tr>`).join("") || "<tr><td>none</td></tr>"}</table>`,
      table({ ...S.timings, ...flat(S.progress, "progress.") }, "", "timings"),
      table(flat(S.costs), "", "sandbox and teacher costs"),
      `<h4>shard suite</h4><p><span class="verdict ${verdict === "not run" ? "none" : verdict.toLowerCase()}">${verdict}</span>${docs}</p>` +
        (failed ? `<ul>${failed}</ul>` : ""),
    ];
    if (S.plots.length) sections.push(`<h4>plots</h4><div class="plots">${S.plots.map((p) => `<a href="${esc(p)}"><img alt="" src="${esc(p)}"></a>`).join("")}</div>`);
    $("summary-body").innerHTML = sections.map((s) => `<section>${s}</section>`).join("");
  }

  // ---- filters and list ------------------------------------------------------------------------------------
  function fillFilters() {
    for (const name of FACETS) {
      const f = S.site.facets[name];
      const label = (v) => (name === "check" ? v.replace(":", ": ") : v);
      const options = f.values.map((v, n) => ({ v, n, c: f.counts[n] })).sort((a, b) => a.v.localeCompare(b.v));
      $(`f-${name}`).innerHTML = `<option value="-1">any ${name}</option>` +
        options.map((o) => `<option value="${o.n}">${esc(label(o.v))} (${o.c})</option>`).join("");
    }
  }

  async function apply(keepOpen) {
    const run = ++st.run;
    const want = Object.fromEntries(FACETS.map((name) => [name, Number($(`f-${name}`).value)]));
    const kind = $("f-kind").value, q = $("f-q").value.trim().toLowerCase();
    if (q) {
      $("count").textContent = "loading search text…";
      await loadTexts();
      if (run !== st.run) return;
    }
    const chunk = S.site.text_chunk, hits = [];
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i];
      if ((kind && r[1] !== kind) || (want.family >= 0 && r[2] !== want.family)) continue;
      if ((want.stage >= 0 && r[3] !== want.stage) || (want.reason >= 0 && r[4] !== want.reason)) continue;
      if (want.check >= 0 && !checksets[r[5]].has(want.check)) continue;
      if (q && !r[0].toLowerCase().includes(q) && !texts[(i / chunk) | 0][i % chunk].includes(q)) continue;
      hits.push(i);
    }
    st.hits = hits;
    const where = keepOpen ? hits.indexOf(st.open) : -1;
    st.at = where >= 0 ? where - (where % LIST) : 0;
    $("count").textContent = `${hits.length} of ${rows.length} records`;
    renderList();
  }

  function renderList() {
    const part = st.hits.slice(st.at, st.at + LIST);
    $("list").innerHTML = part.map(item).join("");
    $("at").textContent = st.hits.length ? `${st.at + 1}–${st.at + part.length} of ${st.hits.length}` : "no record matches";
    $("prev").disabled = st.at === 0;
    $("next").disabled = st.at + LIST >= st.hits.length;
  }

  function item(i) {
    const r = rows[i];
    const thumb = r[6] ? `<img loading="lazy" alt="" src="thumbs/${r[6].slice(0, 2)}/${r[6]}.jpg">` : `<span class="noimg"></span>`;
    const why = r[1] === "d" ? ` · <b>${esc(facet("stage", r[3]))}/${esc(facet("reason", r[4]))}</b>` : "";
    const cls = `${r[1]}${i === st.open ? " open" : ""}`;
    return `<li data-i="${i}" class="${cls}">${thumb}<span class="id">${esc(r[0])}</span>` +
      `<span class="sub">${r[1] === "a" ? "accepted" : "dead letter"} · ${esc(facet("family", r[2]) || "?")}${why}</span></li>`;
  }

  // ---- one record ------------------------------------------------------------------------------------------
  function figure(img, k, role) {
    if (!img) return "";
    const pic = img.thumb
      ? `<a href="${esc(img.full)}" target="_blank"><img src="${esc(img.thumb)}" alt="image ${k}"></a>`
      : `<a class="broken" href="${esc(img.full)}" target="_blank">not decodable<br>${esc(img.error || "")}</a>`;
    const shown = img.preview ? ` · <span title="a JPEG preview opens; the exact image is in the shard">preview</span>` : "";
    return `<figure>${pic}<figcaption>#${k} ${role} · ${img.w}×${img.h} · ${kb(img.bytes)}${shown}</figcaption></figure>`;
  }

  function execution(e) {
    const fixes = [
      ...(e.fixes || []).map((f) => `<span class="fix" title="needed to run as recorded">${esc(f)}</span>`),
      ...(e.fixes_rewritten || []).map((f) => `<span class="fix" title="folded into the code">${esc(f)} (rewritten)</span>`),
    ].join(" ");
    const error = e.error_type || e.error_message ? `<div class="err">${esc(e.error_type)}: ${esc(e.error_message)}</div>` : "";
    const streams = ["stdout", "stderr"].filter((k) => e[k]).map((k) => `<div><span class="tag">${k}</span><pre>${esc(e[k])}</pre></div>`).join("");
    const asRun = e.code_as_run && e.code_as_run !== e.code
      ? `<details><summary>code as run</summary><pre class="code">${highlight(e.code_as_run)}</pre></details>` : "";
    return `<div class="exec"><span class="tag">execution</span> <span class="status ${e.status === "ok" ? "ok" : "bad"}">` +
      `${esc(e.status)}</span> ${fixes}${error}${streams}${asRun}</div>`;
  }

  function trajectory(rec) {
    const t = rec.trajectory;
    if (!t) return "";
    if (t.raw !== undefined) {
      return `<h3>Response</h3><p class="warn">${esc(t.error)}</p><pre>${esc(t.raw)}</pre>` +
        (rec.executions || []).map(execution).join("");
    }
    const turns = t.turns.map((u) => {
      let html = u.text ? `<div class="think">${esc(u.text)}</div>` : "";
      if (u.code !== null) {
        const out = u.images.length ? u.images.map((k) => figure(rec.images[k], k, "returned")).join(" ") : `<pre>${esc(u.output)}</pre>`;
        html += `<pre class="code">${highlight(u.code)}</pre>${u.exec ? execution(u.exec) : ""}` +
          `<div class="out"><span class="tag">sandbox output</span>${out}</div>`;
      }
      return `<li>${html}</li>`;
    }).join("");
    return `<h3>Trajectory</h3><ol class="turns">${turns}</ol><p class="answer"><span class="tag">answer</span> <b>${esc(t.answer)}</b></p>`;
  }

  function checks(list) {
    if (!list || !list.length) return "";
    const body = list.map((c) => `<tr><td>${esc(c.name)}</td><td><span class="verdict ${c.passed ? "passed" : "failed"}">` +
      `${c.passed ? "passed" : "failed"}</span></td><td>${esc(c.reason)}</td><td>${esc(c.detail)}</td></tr>`).join("");
    return `<h3>Checks</h3><table><tr><th>check</th><th>verdict</th><th>reason</th><th>detail</th></tr>${body}</table>`;
  }

  function renderRecord(v, i) {
    const rec = v.kind === "a" ? v : v.record;
    const size = rec.size ? ` · ${rec.size.width}×${rec.size.height}` : "";
    let html = `<h2><a href="${linkOf(i)}" title="link to this record">${esc(v.id)}</a></h2><p class="meta">` +
      `<span class="badge ${v.kind}">${v.kind === "a" ? "accepted" : "dead letter"}</span> ` +
      `${esc(rec.family || "")}${size} · ${esc(v.shard)}</p>`;
    if (v.kind === "d") {
      html += `<dl class="dead"><dt>stage</dt><dd>${esc(v.stage)}</dd><dt>reason</dt><dd>${esc(v.reason)}</dd>` +
        `<dt>detail</dt><dd><pre>${esc(v.detail)}</pre></dd></dl>`;
    }
    if (rec.images && rec.images.length) {
      html += `<div class="gallery">${rec.images.map((img, k) => figure(img, k, k ? "processed" : "original")).join("")}</div>`;
    }
    if (rec.question !== undefined) {
      html += `<h3>Question</h3><div class="question">${esc(rec.question)}</div>` +
        `<p><span class="tag">ground truth</span> <b>${esc(rec.answer)}</b> <span class="tag">${esc(rec.answer_type)}</span>` +
        `${rec.choices && rec.choices.length ? ` · choices ${esc(rec.choices.join(" | "))}` : ""}` +
        `${rec.difficulty !== undefined ? ` · difficulty ${esc(rec.difficulty)}` : ""}</p>`;
    }
    if (rec.evidence) {
      html += `<p class="evidence"><span class="tag">tool evidence</span> ${esc(rec.evidence.kind)} · ` +
        `needed <b>${esc(rec.evidence.needed)}</b> · ${esc(rec.evidence.reason)}</p>`;
    }
    html += trajectory(rec) + checks(rec.checks);
    if (v.kind === "d") {
      const cut = v.payload_chars > v.payload.length ? ` (first ${v.payload.length} of ${v.payload_chars} characters)` : "";
      html += `<details class="more" open><summary>payload${cut}; ${v.blobs.length} blob(s) ${v.blobs.map(kb).join(", ")}</summary>` +
        `<pre>${esc(v.payload)}</pre></details>`;
    }
    if (rec.provenance || rec.params) {
      html += `<details class="more"><summary>provenance and task parameters</summary>` +
        `<pre>${esc(JSON.stringify(rec.provenance, null, 1))}</pre><pre>${esc(rec.params)}</pre></details>`;
    }
    return html;
  }

  async function open(i, push) {
    st.open = i;
    if (push) history.pushState(null, "", linkOf(i));
    for (const li of $("list").children) li.classList.toggle("open", Number(li.dataset.i) === i);
    const size = S.site.page_size, records = await page((i / size) | 0);
    if (st.open !== i) return;
    $("record").innerHTML = renderRecord(records[i % size], i);
  }

  async function fromHash() {
    const params = new URLSearchParams(location.hash.slice(1));
    const id = params.get("id");
    if (id === null) return false;
    const i = (ids.get(id) || [])[Number(params.get("n") || 0)];
    if (i === undefined) {
      $("record").innerHTML = `<p class="warn">No record with id <b>${esc(id)}</b> in this run.</p>`;
      return true;
    }
    const where = st.hits.indexOf(i);
    if (where >= 0 && (where < st.at || where >= st.at + LIST)) {
      st.at = where - (where % LIST);
      renderList();
    }
    await open(i, false);
    return true;
  }

  function fail(err) {
    $("record").innerHTML = `<p class="warn">${esc(err.message || err)}</p>`;
    throw err;
  }

  // ---- wiring ----------------------------------------------------------------------------------------------
  function wire() {
    for (const id of ["f-kind", ...FACETS.map((n) => `f-${n}`)]) $(id).addEventListener("change", () => apply(true).catch(fail));
    let typing = 0;
    $("f-q").addEventListener("input", () => {
      clearTimeout(typing);
      typing = setTimeout(() => apply(true).catch(fail), 200);
    });
    $("filters").addEventListener("reset", () => setTimeout(() => apply(true).catch(fail)));
    $("filters").addEventListener("submit", (e) => e.preventDefault());
    $("prev").addEventListener("click", () => { st.at = Math.max(0, st.at - LIST); renderList(); });
    $("next").addEventListener("click", () => { st.at += LIST; renderList(); });
    $("list").addEventListener("click", (e) => {
      const li = e.target.closest("li[data-i]");
      if (li) open(Number(li.dataset.i), true).catch(fail);
    });
    $("summary-body").addEventListener("click", (e) => {
      const tr = e.target.closest("tr[data-facet]");
      if (!tr) return;
      const n = S.site.facets[tr.dataset.facet].values.indexOf(tr.dataset.value);
      $(`f-${tr.dataset.facet}`).value = String(n);
      apply(true).catch(fail);
    });
    window.addEventListener("hashchange", () => fromHash().catch(fail));
  }

  async function start() {
    if (!S) throw new Error("data/summary.js did not load");
    checksets = S.site.checksets.map((c) => new Set(c));
    rows.forEach((r, i) => {
      if (!ids.has(r[0])) ids.set(r[0], []);
      ids.get(r[0]).push(i);
    });
    renderSummary();
    if (location.hash) $("summary").open = false;  // a record's link shows the record first
    fillFilters();
    wire();
    await apply(false);
    if (!(await fromHash()) && st.hits.length) await open(st.hits[0], false);
    document.body.dataset.ready = String(Math.round(performance.now()));
  }

  return {
    summary: (s) => { S = s; },
    index: (r) => { rows = r; },
    page: (n, records) => { pages.set(n, records); },
    text: (n, chunk) => { texts[n] = chunk; },
    start: () => start().catch(fail),
  };
})();
