'use strict';

// The served page: photos and this device's camera go to POST /v1/classify?cam=true; with serve --source, the
// server's own live loop arrives as MJPEG (/v1/live.mjpeg) and Server-Sent Events (/v1/live/events). Both streams
// are read with fetch, not <img src> or EventSource, so that they can carry the API key.

const $ = (id) => document.getElementById(id);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const KeyName = 'dogsvscats.apiKey';
const ParallelPhotos = 4;
const CameraMaxSide = 640;

let info = null;
let keyEntered = null;

function status(text, isError = false) {
  $('status').textContent = text;
  $('status').classList.toggle('error', isError);
}

function authorization() {
  const key = sessionStorage.getItem(KeyName);
  return key ? { Authorization: `Bearer ${key}` } : {};
}

async function api(path, init = {}) {
  const response = await fetch(path, { ...init, headers: { ...authorization(), ...(init.headers ?? {}) } });
  if (response.status === 401) {
    askForKey('This server needs an API key (the one serve was started with).');
  }
  return response;
}

async function errorText(response) {
  try {
    return (await response.json()).error ?? `${response.status} ${response.statusText}`;
  } catch {
    return `${response.status} ${response.statusText}`;
  }
}

function askForKey(text) {
  status(text, true);
  $('key-form').hidden = false;
  $('api-key').focus();
}

$('key-form').addEventListener('submit', (event) => {
  event.preventDefault();
  sessionStorage.setItem(KeyName, $('api-key').value.trim());
  $('api-key').value = '';
  $('key-form').hidden = true;
  keyEntered?.();
});

async function connect() {
  for (;;) {
    let response;
    try {
      response = await api('/v1/info');
    } catch {
      status('The server does not answer; retrying…', true);
      await sleep(1000);
      continue;
    }
    if (response.ok) {
      info = await response.json();
      status(`Model '${info.model}' is ready: ${info.labels.join(', ')} (below ${info.min_confidence} confidence: uncertain).`);
      break;
    }
    if (response.status === 401) {
      await new Promise((resolve) => { keyEntered = resolve; });
      continue;
    }
    status(`${await errorText(response)}`, response.status !== 503);
    await sleep(1000);
  }
  if (info.live) {
    $('live').hidden = false;
    showLiveFrames();
    showLivePredictions();
  }
}

// Photos: each is its own request, a few at a time, and gets a card with its label, confidence and activation map.

function photoCard(file) {
  const card = document.createElement('figure');
  card.className = 'result';
  card.dataset.name = file.name;
  card.dataset.state = 'pending';
  const images = document.createElement('div');
  images.className = 'images';
  const photo = document.createElement('img');
  photo.alt = file.name;
  photo.src = URL.createObjectURL(file);
  photo.addEventListener('load', () => URL.revokeObjectURL(photo.src), { once: true });
  const cam = document.createElement('img');
  cam.className = 'cam';
  cam.alt = 'Where the model looked';
  images.append(photo, cam);
  const caption = document.createElement('figcaption');
  const label = document.createElement('strong');
  label.className = 'label';
  label.textContent = '…';
  const confidence = document.createElement('span');
  confidence.className = 'confidence';
  const name = document.createElement('div');
  name.className = 'name';
  name.textContent = file.name;
  caption.append(label, ' ', confidence, name);
  card.append(images, caption);
  $('results').prepend(card);
  return card;
}

async function classifyPhoto(file, card) {
  const form = new FormData();
  form.append('file', file, file.name);
  try {
    const response = await api('/v1/classify?cam=true', { method: 'POST', body: form });
    if (!response.ok) {
      throw new Error(await errorText(response));
    }
    const [line] = await response.json();
    card.querySelector('.label').textContent = line.label;
    card.querySelector('.confidence').textContent = `${(line.confidence * 100).toFixed(1)} %`;
    card.querySelector('.cam').src = `data:image/png;base64,${line.cam_png}`;
    card.dataset.state = 'done';
  } catch (error) {
    card.querySelector('.label').textContent = error.message;
    card.dataset.state = 'error';
  }
}

async function classifyPhotos(files) {
  const queue = [...files].filter((file) => file.type.startsWith('image/')).map((file) => [file, photoCard(file)]);
  const worker = async () => {
    for (let next = queue.shift(); next; next = queue.shift()) {
      await classifyPhoto(...next);
    }
  };
  await Promise.all(Array.from({ length: ParallelPhotos }, worker));
}

$('file-input').addEventListener('change', (event) => {
  classifyPhotos(event.target.files);
  event.target.value = '';
});
const dropZone = $('drop-zone');
dropZone.addEventListener('dragover', (event) => {
  event.preventDefault();
  dropZone.classList.add('over');
});
dropZone.addEventListener('dragleave', () => dropZone.classList.remove('over'));
dropZone.addEventListener('drop', (event) => {
  event.preventDefault();
  dropZone.classList.remove('over');
  classifyPhotos(event.dataTransfer.files);
});

// This device's camera: grab the newest frame, send it, wait for the answer, repeat. One request at a time, so a
// slow server or network lowers the frame rate instead of building a backlog.

let cameraStream = null;

/** The centred region the model sees, in the frame's pixels: the server's crop rule (shared ImagePreprocessing.CropRegion). */
function cropRegion(width, height) {
  const wide = width * info.input_height;
  const tall = height * info.input_width;
  let cropWidth = width;
  let cropHeight = height;
  if (wide > tall) {
    cropWidth = Math.max(1, Math.round((height * info.input_width) / info.input_height));
  } else if (tall > wide) {
    cropHeight = Math.max(1, Math.round((width * info.input_height) / info.input_width));
  }
  return { x: Math.floor((width - cropWidth) / 2), y: Math.floor((height - cropHeight) / 2), width: cropWidth, height: cropHeight };
}

async function startCamera() {
  if (!navigator.mediaDevices?.getUserMedia) {
    $('camera-note').textContent = 'This browser allows the camera only on https:// or http://localhost pages.';
    return;
  }
  try {
    cameraStream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 1280 } }, audio: false });
  } catch (error) {
    $('camera-note').textContent = `No camera: ${error.message}`;
    return;
  }
  const video = $('camera-video');
  video.srcObject = cameraStream;
  await video.play();
  $('camera-view').hidden = false;
  $('camera-start').hidden = true;
  $('camera-stop').hidden = false;
  $('camera-note').textContent = '';
  cameraLoop(cameraStream);
}

function stopCamera() {
  cameraStream?.getTracks().forEach((track) => track.stop());
  cameraStream = null;
  $('camera-start').hidden = false;
  $('camera-stop').hidden = true;
}

async function cameraLoop(stream) {
  const video = $('camera-video');
  const overlay = $('camera-overlay');
  const grab = document.createElement('canvas');
  const tally = new Map();
  let fps = 0;
  let previous = 0;
  while (cameraStream === stream) {
    if (!info || video.readyState < HTMLMediaElement.HAVE_CURRENT_DATA || video.videoWidth === 0) {
      await sleep(50);
      continue;
    }
    // Scaled down before sending: the model sees a few hundred pixels at most, the upload need not carry more.
    const scale = Math.min(1, CameraMaxSide / Math.max(video.videoWidth, video.videoHeight));
    grab.width = Math.round(video.videoWidth * scale);
    grab.height = Math.round(video.videoHeight * scale);
    grab.getContext('2d').drawImage(video, 0, 0, grab.width, grab.height);
    const jpeg = await new Promise((resolve) => grab.toBlob(resolve, 'image/jpeg', 0.85));
    const sent = performance.now();
    let response;
    try {
      response = await api('/v1/classify?cam=true', { method: 'POST', body: jpeg, headers: { 'Content-Type': 'image/jpeg' } });
    } catch {
      $('camera-note').textContent = 'The server does not answer; retrying…';
      await sleep(1000);
      continue;
    }
    if (!response.ok) {
      $('camera-note').textContent = await errorText(response);
      await sleep(response.status === 503 ? 1000 * Number(response.headers.get('Retry-After') ?? 1) : 1000);
      continue;
    }
    const line = await response.json();
    const now = performance.now();
    $('camera-latency').textContent = (now - sent).toFixed(0);
    fps = previous === 0 ? 0 : (0.8 * fps) + (0.2 * 1000 / (now - previous));
    previous = now;
    $('camera-fps').textContent = fps.toFixed(1);
    $('camera-note').textContent = '';
    $('camera-label').textContent = line.label;
    $('camera-confidence').textContent = `${(line.confidence * 100).toFixed(1)} %`;
    tally.set(line.label, (tally.get(line.label) ?? 0) + 1);
    showTally(tally);
    await drawOverlay(overlay, line, grab.width, grab.height);
  }
}

function showTally(tally) {
  $('camera-tally').replaceChildren(...[...tally].map(([label, count]) => {
    const item = document.createElement('li');
    item.dataset.label = label;
    item.dataset.count = count;
    item.textContent = `${label}: ${count}`;
    return item;
  }));
}

/** The activation map over the region the model saw, and the label, on a canvas the size of the sent frame. */
async function drawOverlay(overlay, line, width, height) {
  const map = new Image();
  map.src = `data:image/png;base64,${line.cam_png}`;
  await map.decode();
  overlay.width = width;
  overlay.height = height;
  const context = overlay.getContext('2d');
  const region = cropRegion(width, height);
  context.globalAlpha = 0.6;
  context.drawImage(map, region.x, region.y, region.width, region.height);
  context.globalAlpha = 1;
  context.strokeStyle = '#50c850';
  context.strokeRect(region.x + 0.5, region.y + 0.5, region.width - 1, region.height - 1);
  const size = Math.max(14, Math.round(width / 24));
  context.font = `bold ${size}px system-ui, sans-serif`;
  const text = `${line.label} ${line.confidence.toFixed(2)}`;
  context.fillStyle = 'rgba(0, 0, 0, 0.55)';
  context.fillRect(0, 0, context.measureText(text).width + size, size * 1.6);
  context.fillStyle = '#fff';
  context.fillText(text, size / 2, size * 1.2);
}

$('camera-start').addEventListener('click', startCamera);
$('camera-stop').addEventListener('click', stopCamera);

// The server's live loop (serve --source). Each stream reconnects after a pause if it ends or fails, until the
// server says that the loop has ended (its source did: a video file played to its end).

let liveEnded = false;

async function readStream(path, onChunk) {
  while (!liveEnded) {
    try {
      const response = await api(path);
      if (response.ok) {
        const reader = response.body.getReader();
        for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
          onChunk(chunk.value);
        }
      }
    } catch {
      // The server went away or restarts: try again below.
    }
    await sleep(1000);
  }
}

function concat(a, b) {
  const joined = new Uint8Array(a.length + b.length);
  joined.set(a);
  joined.set(b, a.length);
  return joined;
}

function indexOf(bytes, pattern) {
  outer: for (let i = 0; i + pattern.length <= bytes.length; i++) {
    for (let j = 0; j < pattern.length; j++) {
      if (bytes[i + j] !== pattern[j]) {
        continue outer;
      }
    }
    return i;
  }
  return -1;
}

function showLiveFrames() {
  const image = $('live-image');
  const headerEnd = new Uint8Array([13, 10, 13, 10]);
  let buffer = new Uint8Array(0);
  let shown = 0;
  // multipart/x-mixed-replace: "--frame", headers with Content-Length, a blank line, the JPEG, CRLF.
  readStream('/v1/live.mjpeg', (chunk) => {
    buffer = concat(buffer, chunk);
    for (;;) {
      const end = indexOf(buffer, headerEnd);
      if (end < 0) {
        return;
      }
      const length = Number(/content-length:\s*(\d+)/i.exec(new TextDecoder().decode(buffer.subarray(0, end)))?.[1]);
      const start = end + headerEnd.length;
      if (buffer.length < start + length + 2) {
        return;
      }
      const previous = image.src;
      image.src = URL.createObjectURL(new Blob([buffer.slice(start, start + length)], { type: 'image/jpeg' }));
      if (previous.startsWith('blob:')) {
        URL.revokeObjectURL(previous);
      }
      buffer = buffer.slice(start + length + 2);
      $('live-frames').textContent = ++shown;
    }
  });
}

function showLivePredictions() {
  const decoder = new TextDecoder();
  let text = '';
  readStream('/v1/live/events', (chunk) => {
    text += decoder.decode(chunk, { stream: true });
    const events = text.split('\n\n');
    text = events.pop();
    const data = events.at(-1)?.split('\n').find((line) => line.startsWith('data: '));
    if (!data) {
      return;
    }
    const line = JSON.parse(data.slice('data: '.length));
    if (line.ended) {
      liveEnded = true;
      $('live-label').textContent = 'The source has ended.';
      $('live-confidence').textContent = '';
      return;
    }
    $('live-label').textContent = line.label;
    $('live-confidence').textContent = `${(line.confidence * 100).toFixed(1)} %`;
    $('live-frame').textContent = line.frame;
    $('live-fps').textContent = line.fps.toFixed(1);
    $('live-latency').textContent = line.latency_ms.toFixed(0);
  });
}

connect();
