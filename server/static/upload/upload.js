// The upload page: sign in with a token (kept in sessionStorage, sent as a Bearer header), pick
// one of the publisher's sources, send a file, then poll its job until the report is ready.
// Everything from the server or the publisher is written with textContent, never as HTML.
"use strict";

(() => {
  const KEY = "regiongis.token";
  const POLL_MS = 1000;
  const $ = (id) => document.getElementById(id);
  const token = () => sessionStorage.getItem(KEY);

  function formatBytes(n) {
    const units = ["bytes", "KB", "MB", "GB"];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
    return `${i ? n.toFixed(1) : n} ${units[i]}`;
  }

  async function api(url) {
    const response = await fetch(url, { headers: { Authorization: `Bearer ${token()}` } });
    const body = await response.json().catch(() => ({}));
    return { response, body };
  }

  function cell(row, text) {
    const td = document.createElement("td");
    td.textContent = text === null || text === undefined ? "" : String(text);
    row.append(td);
  }

  function fillTable(id, rows) {
    const body = $(id).querySelector("tbody");
    body.replaceChildren();
    for (const values of rows) {
      const tr = document.createElement("tr");
      values.forEach((v) => cell(tr, v));
      body.append(tr);
    }
    $(id).hidden = rows.length === 0;
  }

  function showSignedIn(me) {
    $("who").textContent = `${me.publisher.name} · token ${me.token} (${me.role})`;
    const select = $("source");
    select.replaceChildren();
    for (const s of me.sources) {
      const option = document.createElement("option");
      option.value = s.id;
      option.textContent = `${s.title} (${s.theme})`;
      select.append(option);
    }
    $("file").accept = me.formats.join(",");
    $("source-help").textContent =
      `Files up to ${formatBytes(me.max_bytes)}: ${me.formats.join(", ")}. ` +
      "A Shapefile goes in a .zip with its .shx, .dbf and .prj.";
    $("send").disabled = me.sources.length === 0;
    $("upload-error").textContent = me.sources.length ? "" :
      (me.role === "partner" ? "Partner tokens are read-only: there is nothing to upload."
        : "Your publisher has no sources configured yet; ask your regional administrator.");
    $("sign-in").hidden = true;
    $("upload").hidden = false;
    $("who").hidden = false;
    $("sign-out").hidden = false;
  }

  async function signIn(value) {
    sessionStorage.setItem(KEY, value);
    const { response, body } = await api("/api/me");
    if (!response.ok) {
      sessionStorage.removeItem(KEY);
      $("sign-in-error").textContent = body.detail || `Sign-in failed (HTTP ${response.status})`;
      return;
    }
    $("sign-in-error").textContent = "";
    showSignedIn(body);
    $("source").focus();
  }

  function signOut() {
    sessionStorage.removeItem(KEY);
    $("sign-in").hidden = false;
    $("upload").hidden = true;
    $("job").hidden = true;
    $("who").hidden = true;
    $("sign-out").hidden = true;
    $("token").value = "";
    $("token").focus();
  }

  function renderJob(job) {
    const done = job.status === "succeeded" || job.status === "failed";
    $("job-title").textContent = `Job ${job.id}: ${job.kind === "check" ? "check" : "upload"} ` +
      `of ${job.file.name} to ${job.source}`;
    $("job-phase").textContent = done ? `Finished: ${job.status}` : `${job.status}: ${job.phase}`;
    $("job-progress").value = done ? 1 : job.progress;
    const status = $("job-status");
    status.className = job.status;
    status.textContent = job.status === "failed" ? `Failed: ${job.message}` :
      job.status === "succeeded" ? (job.kind === "check" ? "Checked; nothing was changed."
        : "Loaded: the new data is live.") :
      job.status === "queued" ? "Waiting for a worker to pick it up." : "Working on it.";
    const summary = $("job-summary");
    summary.replaceChildren();
    if (job.summary) {
      for (const [label, key] of [["Features read", "input"],
        [job.kind === "check" ? "Would load" : "Loaded", "loaded"],
        [job.kind === "check" ? "Would quarantine" : "Quarantined", "quarantined"]]) {
        const dt = document.createElement("dt");
        const dd = document.createElement("dd");
        dt.textContent = label;
        dd.textContent = String(job.summary[key]);
        summary.append(dt, dd);
      }
    }
    fillTable("job-issues", job.rules.map((r) => [r.rule, r.count, r.severity, r.fix]));
    fillTable("job-examples", job.rules.flatMap((r) => r.examples.map((e) =>
      [e.row, e.field, r.rule, e.message, e.value])));
    const report = $("job-report");
    report.hidden = !job.report;
    if (job.report) {
      report.dataset.href = job.report;
      report.href = "#";
    }
    return done;
  }

  async function watch(url) {
    const { response, body } = await api(url);
    if (!response.ok) {
      $("job-status").textContent = body.detail || `Cannot read the job (HTTP ${response.status})`;
      return;
    }
    if (!renderJob(body)) setTimeout(() => watch(url), POLL_MS);
    else $("send").disabled = false;
  }

  // The report needs the Bearer header, so it is fetched and handed over as a blob download.
  async function downloadReport(event) {
    event.preventDefault();
    const link = event.currentTarget;
    const response = await fetch(link.dataset.href,
      { headers: { Authorization: `Bearer ${token()}` } });
    if (!response.ok) return;
    const url = URL.createObjectURL(await response.blob());
    const a = document.createElement("a");
    a.href = url;
    a.download = `job-${link.dataset.href.split("/").slice(-2, -1)[0]}-report.html`;
    a.click();
    URL.revokeObjectURL(url);
  }

  function send(event) {
    event.preventDefault();
    const file = $("file").files[0];
    if (!file) { $("upload-error").textContent = "Choose a file first."; return; }
    const data = new FormData();
    data.append("source", $("source").value);
    if ($("dry-run").checked) data.append("dry_run", "true");
    data.append("file", file);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/uploads");
    xhr.setRequestHeader("Authorization", `Bearer ${token()}`);
    xhr.responseType = "json";
    $("send").disabled = true;
    $("upload-error").textContent = "";
    $("job").hidden = false;
    $("job-title").textContent = `Sending ${file.name}`;
    $("job-phase").textContent = "Sending";
    $("job-status").textContent = "";
    $("job-summary").replaceChildren();
    fillTable("job-issues", []);
    fillTable("job-examples", []);
    $("job-report").hidden = true;
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) $("job-progress").value = e.loaded / e.total;
    };
    xhr.onload = () => {
      const body = xhr.response || {};
      if (xhr.status === 202) {
        $("job-title").focus();
        watch(body.url);
        return;
      }
      $("send").disabled = false;
      $("job").hidden = true;
      $("upload-error").textContent = body.detail || `Upload refused (HTTP ${xhr.status})`;
      if (xhr.status === 401) signOut();
    };
    xhr.onerror = () => {
      $("send").disabled = false;
      $("upload-error").textContent = "The upload did not reach the server; try again.";
    };
    xhr.send(data);
  }

  function showChosen() {
    const file = $("file").files[0];
    $("file-chosen").textContent = file ? `${file.name} (${formatBytes(file.size)})` : "";
  }

  function wireDropZone() {
    const zone = $("drop-zone");
    zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
    zone.addEventListener("dragleave", () => zone.classList.remove("over"));
    zone.addEventListener("drop", (e) => {
      e.preventDefault();
      zone.classList.remove("over");
      if (e.dataTransfer.files.length) {
        $("file").files = e.dataTransfer.files;
        showChosen();
      }
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("sign-in-form").addEventListener("submit", (e) => {
      e.preventDefault();
      signIn($("token").value.trim());
    });
    $("sign-out").addEventListener("click", signOut);
    $("upload-form").addEventListener("submit", send);
    $("file").addEventListener("change", showChosen);
    $("job-report").addEventListener("click", downloadReport);
    wireDropZone();
    if (token()) signIn(token());
  });
})();
