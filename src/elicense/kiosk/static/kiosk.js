// Kiosk page: camera frames or an uploaded image → POST /api/verify → full-screen verdict.
// Same-origin requests only; nothing is loaded from elsewhere (the page works offline).
"use strict";

const MAX_UPLOAD = 10 * 1024 * 1024;
const FRAME_INTERVAL_MS = 300;
const VERDICT_TIMEOUT_MS = 30000;
const STATUS_INTERVAL_MS = 30000;
const REPRESENT_MS = 60000;

const $ = (id) => document.getElementById(id);
let stream = null;
let scanning = false;
let busy = false;
let verdictTimer = null;
let lastFocus = null;
// After a verdict, the camera ignores the same licence(s) until the code leaves the view (or a minute
// passes): the phone still held up must not flash the verdict again (and a 亮证 would read as replayed).
let shownKey = null;
let suppressKey = null;
let suppressUntil = 0;
let emptyFrames = 0;
const EMPTY_FRAMES_TO_CLEAR = 4;  // ~1.2 s without a code: it was taken away (one blurred miss is not enough)

function resultKey(doc) {
  return (doc.results || [doc]).map((r) => (r.licence ? r.licence.id : r.status + ":" +
    (r.reasons || []).map((x) => x.code).join(","))).sort().join("|");
}

function bilingual(el, zh, en) {
  el.textContent = "";
  el.append(document.createTextNode(zh));
  if (en) {
    const span = document.createElement("span");
    span.lang = "en";
    span.className = "en";
    span.textContent = en;
    el.append(span);
  }
}

function ageText(seconds) {
  if (seconds === null || seconds === undefined) return ["未知", "unknown"];
  if (seconds < 0) return ["签发时间晚于当前时间", "issued in the future"];
  const days = Math.floor(seconds / 86400);
  if (days >= 1) return [`${days} 天前`, `${days} day${days === 1 ? "" : "s"} ago`];
  const hours = Math.floor(seconds / 3600);
  if (hours >= 1) return [`${hours} 小时前`, `${hours} hour${hours === 1 ? "" : "s"} ago`];
  const minutes = Math.floor(seconds / 60);
  if (minutes < 1) return ["刚刚", "just now"];
  return [`${minutes} 分钟前`, `${minutes} minute${minutes === 1 ? "" : "s"} ago`];
}

function showTrust(trust) {
  if (!trust) return;
  const [zh, en] = ageText(trust.age_seconds);
  const seq = trust.sequence === null ? "" : ` #${trust.sequence}`;
  const until = trust.next_update ? trust.next_update.slice(0, 10) : "—";
  bilingual($("trust"), `信任数据${seq} · 签发于 ${zh} · 下次更新 ${until}`,
    `Trust data${seq} · issued ${en} · next update ${until}`);
  const warn = $("trust-warning");
  if (trust.warnings && trust.warnings.length) {
    warn.textContent = "";
    for (const w of trust.warnings) {
      const p = document.createElement("span");
      bilingual(p, "⚠ " + w.zh, w.en);
      p.dataset.code = w.code;
      warn.append(p);
    }
    warn.hidden = false;
  } else {
    warn.hidden = true;
  }
  $("v-trust").textContent = `信任数据${seq}：签发于 ${zh} · Trust data issued ${en}` +
    (trust.stale ? " · 已过期 STALE" : "") + (trust.clock_suspect ? " · 时钟异常 CLOCK?" : "");
}

async function refreshStatus() {
  try {
    const r = await fetch("/api/status", { cache: "no-store" });
    if (r.ok) showTrust((await r.json()).trust);
  } catch (e) {
    bilingual($("trust"), "无法连接核验服务", "Cannot reach the verification service");
  }
}

function message(zh, en) {
  bilingual($("message"), zh || "", en || "");
}

function showVerdict(doc) {
  shownKey = resultKey(doc);
  const v = $("verdict");
  v.className = "verdict " + doc.status;
  v.dataset.status = doc.status;
  $("v-label-zh").textContent = doc.label.zh;
  $("v-label-en").textContent = doc.label.en;
  const lic = doc.licence;
  $("v-facts").hidden = !lic;
  if (lic) {
    bilingual($("v-type"), lic.type_name.zh || lic.type_code, lic.type_name.en || "");
    // A presentation (亮证) may withhold the holder: say so, never show a lone mask character.
    const hidden = "未出示 not disclosed";
    bilingual($("v-holder"), lic.holder || hidden, lic.holder ? (lic.holder_code || "") : "");
    bilingual($("v-issuer"), lic.issuer, lic.issuer_code);
    $("v-validity").textContent = `${lic.valid_from} 至 ${lic.valid_until || "长期 long-term"}`;
    const fields = lic.fields || [];
    const box = $("v-fields");
    box.textContent = "";
    for (const f of fields) {
      const row = document.createElement("div");
      row.dataset.key = f.key;
      const dt = document.createElement("dt");
      bilingual(dt, f.zh, f.en);
      const dd = document.createElement("dd");
      dd.textContent = String(f.value);
      row.append(dt, dd);
      box.append(row);
    }
    $("v-fields-wrap").hidden = fields.length === 0;
    $("v-fields-title").textContent = lic.disclosed ? "持证人出示的信息 · Disclosed by the holder" :
      "二维码所示信息 · Shown in the QR";
  } else {
    $("v-fields-wrap").hidden = true;
  }
  const list = $("v-reasons");
  list.textContent = "";
  for (const reason of doc.reasons || []) {
    const li = document.createElement("li");
    li.dataset.code = reason.code;
    bilingual(li, reason.zh, reason.en);
    list.append(li);
  }
  const more = $("v-more");
  more.hidden = !(doc.count > 1);
  if (doc.count > 1) {
    more.textContent = `画面中有 ${doc.count} 个证照二维码，显示最差的结果 · ${doc.count} licence codes in view; showing the worst result`;
  }
  showTrust(doc.trust);
  openOverlay();
}

function showError(doc, fallbackZh, fallbackEn) {
  const v = $("verdict");
  v.className = "verdict ERROR";
  v.dataset.status = "ERROR";
  const err = (doc && doc.error) || { zh: fallbackZh, en: fallbackEn, code: "error" };
  $("v-label-zh").textContent = "未能核验";
  $("v-label-en").textContent = "Not checked";
  $("v-facts").hidden = true;
  $("v-fields-wrap").hidden = true;
  const list = $("v-reasons");
  list.textContent = "";
  const li = document.createElement("li");
  li.dataset.code = err.code;
  bilingual(li, err.zh, err.en);
  list.append(li);
  $("v-more").hidden = true;
  if (doc && doc.trust) showTrust(doc.trust);
  openOverlay();
}

function openOverlay() {
  const v = $("verdict");
  lastFocus = document.activeElement;
  scanning = false;
  v.hidden = false;
  v.focus();
  clearTimeout(verdictTimer);
  verdictTimer = setTimeout(reset, VERDICT_TIMEOUT_MS);
}

function reset() {
  clearTimeout(verdictTimer);
  suppressKey = shownKey;
  suppressUntil = Date.now() + REPRESENT_MS;
  const v = $("verdict");
  v.hidden = true;
  v.dataset.status = "";
  message("", "");
  $("file").value = "";
  if (stream) scanning = true;
  if (lastFocus && lastFocus.focus) lastFocus.focus();
}

async function post(body, camera) {
  const r = await fetch("/api/verify" + (camera ? "?mode=camera" : ""), {
    method: "POST",
    body,
    headers: { "Content-Type": "application/octet-stream" },
    cache: "no-store",
  });
  let doc = null;
  try { doc = await r.json(); } catch (e) { doc = null; }
  return [r.status, doc];
}

async function verifyUpload(blob) {
  if (busy) return;
  busy = true;
  message("正在核验…", "Checking…");
  try {
    if (blob.size > MAX_UPLOAD) blob = await shrink(blob);
    const [code, doc] = await post(blob, false);
    if (code === 200 && doc) showVerdict(doc);
    else showError(doc, "无法核验该文件", "This file could not be checked");
  } catch (e) {
    showError(null, "无法连接核验服务", "Cannot reach the verification service");
  } finally {
    busy = false;
  }
}

async function shrink(blob) {
  // A large photo: redraw it at most 2400 px wide as JPEG (still plenty for a QR code).
  const bitmap = await createImageBitmap(blob);
  const scale = Math.min(1, 2400 / Math.max(bitmap.width, bitmap.height));
  const canvas = document.createElement("canvas");
  canvas.width = Math.round(bitmap.width * scale);
  canvas.height = Math.round(bitmap.height * scale);
  canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  return await new Promise((res) => canvas.toBlob(res, "image/jpeg", 0.9));
}

async function startCamera() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    bilingual($("camera-state"), "此浏览器无法使用摄像头，请上传图片", "No camera access here: upload an image");
    return;
  }
  try {
    stream = await navigator.mediaDevices.getUserMedia({
      video: { facingMode: "environment", width: { ideal: 1920 }, height: { ideal: 1080 } },
      audio: false,
    });
  } catch (e) {
    bilingual($("camera-state"), "无法开启摄像头（请允许摄像头权限）", "Camera unavailable (allow camera access)");
    return;
  }
  const video = $("video");
  video.srcObject = stream;
  await video.play();
  bilingual($("camera-state"), "正在扫描…", "Scanning…");
  $("start-camera").hidden = true;
  scanning = true;
  loop();
}

async function loop() {
  const video = $("video");
  const canvas = document.createElement("canvas");
  for (;;) {
    await new Promise((res) => setTimeout(res, FRAME_INTERVAL_MS));
    if (!stream) return;
    if (!scanning || busy || !video.videoWidth) continue;
    const scale = Math.min(1, 1920 / Math.max(video.videoWidth, video.videoHeight));
    canvas.width = Math.round(video.videoWidth * scale);
    canvas.height = Math.round(video.videoHeight * scale);
    canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
    const blob = await new Promise((res) => canvas.toBlob(res, "image/jpeg", 0.85));
    if (!blob || !scanning) continue;
    busy = true;
    try {
      const [code, doc] = await post(blob, true);
      if (!scanning) continue;
      if (code === 200) emptyFrames = 0;
      if (code === 200 && doc && suppressKey && resultKey(doc) === suppressKey && Date.now() < suppressUntil) {
        message("请移开证照后再出示", "Take the licence away, then show it again");
      } else if (code === 200 && doc) showVerdict(doc);
      else if (doc && doc.error && doc.error.no_qr) {
        if (doc.error.code === "no_qr" && ++emptyFrames >= EMPTY_FRAMES_TO_CLEAR) suppressKey = null;
        if (doc.error.code === "not_elicense") message("这不是电子证照二维码", "This QR code is not an electronic licence");
        else message("", "");
      } else if (doc && doc.error) message(doc.error.zh, doc.error.en);
    } catch (e) {
      message("无法连接核验服务", "Cannot reach the verification service");
    } finally {
      busy = false;
    }
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("start-camera").addEventListener("click", startCamera);
  $("file").addEventListener("change", (ev) => {
    const file = ev.target.files && ev.target.files[0];
    if (file) verifyUpload(file);
  });
  // The label is the visible upload control: make it keyboard operable (Enter/Space opens the picker).
  const label = $("file-label");
  label.tabIndex = 0;
  label.setAttribute("role", "button");
  label.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" || ev.key === " ") {
      ev.preventDefault();
      $("file").click();
    }
  });
  label.addEventListener("focus", () => label.classList.add("focus"));
  label.addEventListener("blur", () => label.classList.remove("focus"));
  $("paste-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const text = $("paste").value.trim();
    if (text) verifyUpload(new Blob([text], { type: "text/plain" }));
  });
  $("reset").addEventListener("click", reset);
  document.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape" && !$("verdict").hidden) reset();
  });
  refreshStatus();
  setInterval(refreshStatus, STATUS_INTERVAL_MS);
  if (navigator.mediaDevices && navigator.permissions) {
    // Start the camera at once where permission was granted before (a kiosk), else wait for the button.
    navigator.permissions.query({ name: "camera" }).then((p) => {
      if (p.state === "granted") startCamera();
    }).catch(() => {});
  }
});
