// levytts serve: the page's logic. Plain JS, no build step, no external resources.
"use strict";
const $ = (id) => document.getElementById(id);
let config = null;
let audioUrl = null;

function option(select, value, label) {
  const o = document.createElement("option");
  o.value = value;
  o.textContent = label || value;
  select.appendChild(o);
}

function setStatus(text, isError) {
  $("status").textContent = text;
  $("status").className = isError ? "error" : "";
}

function syncEta() {
  const sde = $("sampler").value === "sde-e";
  $("eta").disabled = !sde;
  $("eta-preset").disabled = !sde;
}

function countChars() {
  const n = $("text").value.length;
  $("chars").textContent = config ? `(${n} / ${config.max_chars} characters)` : "";
}

async function getJSON(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return r.json();
}

async function init() {
  try {
    const [cfg, speakers] = await Promise.all([getJSON("/api/config"), getJSON("/api/speakers")]);
    config = cfg;
    for (const s of speakers) {
      const minutes = s.minutes == null ? "" : ` (${s.minutes} min${s.rare ? ", rare" : ""})`;
      option($("speaker"), s.id, s.id + minutes);
    }
    for (const s of cfg.samplers) option($("sampler"), s);
    for (const s of cfg.solvers) option($("solver"), s);
    option($("eta-preset"), "", "custom…");
    for (const e of cfg.eta_presets) option($("eta-preset"), e);
    const d = cfg.defaults;
    $("sampler").value = d.sampler;
    $("solver").value = d.solver;
    $("steps").value = d.steps;
    $("eta").value = d.eta;
    $("eta-preset").value = cfg.eta_presets.includes(String(d.eta)) ? String(d.eta) : "";
    $("defaults").textContent = `This checkpoint's defaults: ${d.steps} steps, ${d.sampler}/${d.solver}, η = ${d.eta}, ` +
      `${d.grid} grid. Text up to ${cfg.max_chars} characters.`;
    syncEta();
    countChars();
    setStatus("Ready.");
  } catch (err) {
    setStatus(`Could not reach the server: ${err.message}`, true);
  }
}

async function synthesise(event) {
  event.preventDefault();
  const body = {
    text: $("text").value,
    speaker: $("speaker").value,
    sampler: $("sampler").value,
    solver: $("solver").value,
    steps: $("steps").value === "" ? null : Number($("steps").value),
    seed: $("seed").value === "" ? 0 : Number($("seed").value),
  };
  if (body.sampler === "sde-e") body.eta = $("eta").value;
  $("go").disabled = true;
  setStatus("Synthesising…");
  const t0 = performance.now();
  try {
    const r = await fetch("/api/synthesize", {
      method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body),
    });
    if (!r.ok) {
      let detail = `HTTP ${r.status}`;
      try { detail = (await r.json()).detail || detail; } catch (_) { /* not JSON */ }
      setStatus(detail, true);
      return;
    }
    const blob = await r.blob();
    if (audioUrl) URL.revokeObjectURL(audioUrl);
    audioUrl = URL.createObjectURL(blob);
    $("audio").src = audioUrl;
    $("download").href = audioUrl;
    $("download").download = `levytts_${body.speaker}_seed${body.seed}.wav`;
    const secs = r.headers.get("X-Audio-Seconds");
    const rtf = r.headers.get("X-RTF");
    $("info").textContent = `${secs} s of audio, RTF ${rtf} (${r.headers.get("X-Steps")} steps, ` +
      `${r.headers.get("X-Sampler")}/${r.headers.get("X-Solver")})`;
    $("warning").textContent = r.headers.get("X-Warning") || "";
    const id = r.headers.get("X-Result-Id");
    $("mel").src = `/api/results/${id}/mel.png`;
    if (body.sampler === "sde-e") {
      $("eta-curve").src = `/api/results/${id}/eta.png`;
      $("eta-curve").hidden = false;
    } else {
      $("eta-curve").hidden = true;
      $("eta-curve").removeAttribute("src");
    }
    $("result").hidden = false;
    setStatus(`Done in ${((performance.now() - t0) / 1000).toFixed(1)} s.`);
  } catch (err) {
    setStatus(`Request failed: ${err.message}`, true);
  } finally {
    $("go").disabled = false;
  }
}

$("form").addEventListener("submit", synthesise);
$("sampler").addEventListener("change", syncEta);
$("text").addEventListener("input", countChars);
$("eta-preset").addEventListener("change", () => {
  if ($("eta-preset").value !== "") $("eta").value = $("eta-preset").value;
});
$("eta").addEventListener("input", () => {
  $("eta-preset").value = config && config.eta_presets.includes($("eta").value) ? $("eta").value : "";
});
init();
