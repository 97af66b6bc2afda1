/* Footfall beacon: page views, heartbeats (with how far down the page the visitor has
 * scrolled), clicks, downloads, form submits, errors, Core Web Vitals and track(name, props),
 * batched to the Footfall collector. No dependencies.
 *
 * <script src="/_footfall/footfall.js" defer
 *         data-site="www.example.com"          (default: this page's host)
 *         data-endpoint="/_footfall/"          (the collector's path or URL)
 *         data-consent="required"              (optional: wait for footfall.consent(true))
 *         data-heartbeat="60"></script>        (seconds between heartbeats while visible)
 *
 * Nothing is sent when the browser asks not to be tracked (Do-Not-Track, Global Privacy
 * Control) or before consent when consent is required.
 */
(function () {
  "use strict";
  var script = document.currentScript || {dataset: {}};
  var cfg = script.dataset || {};
  var site = (cfg.site || location.hostname).toLowerCase();
  var endpoint = (cfg.endpoint || "/_footfall/").replace(/\/?$/, "/");
  var heartbeatMs = Math.max(1, Number(cfg.heartbeat || 60)) * 1000;
  var MAX_BATCH = 20, MAX_RETRY = 200, FLUSH_MS = 5000, COOKIE = "ff_vid";
  var DOWNLOAD = /\.(pdf|zip|dmg|exe|msi|csv|xlsx?|docx?|pptx?|tar|gz|mp3|mp4)$/i;

  var dnt = navigator.doNotTrack === "1" || window.doNotTrack === "1" || navigator.globalPrivacyControl === true;
  var consented = cfg.consent !== "required";
  var queue = [], seq = 0, timer = null, started = false;

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var b = new Uint8Array(16);
    (window.crypto || {getRandomValues: function (a) { for (var i = 0; i < a.length; i++) a[i] = Math.random() * 256; return a; }}).getRandomValues(b);
    b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  /* The first-party visitor id: the same cookie the edge copies into x-visitor-id. */
  function visitor() {
    var m = document.cookie.match(/(?:^|;\s*)ff_vid=([^;]+)/);
    if (m) return decodeURIComponent(m[1]);
    var id = uuid();
    document.cookie = COOKIE + "=" + id + "; path=/; max-age=31536000; SameSite=Lax" +
      (location.protocol === "https:" ? "; Secure" : "");
    return id;
  }

  /* Referrer and UTM are captured once, at the session's start (30 minutes of quiet ends it). */
  function session() {
    var s = null, now = Date.now();
    try { s = JSON.parse(sessionStorage.getItem("ff_session") || "null"); } catch (e) { s = null; }
    if (!s || now - s.last > 30 * 60 * 1000) {
      var ref = document.referrer && new URL(document.referrer).host !== location.host ? document.referrer : "";
      var utm = location.search.replace(/^\?/, "").split("&").filter(function (p) { return /^utm_/.test(p); }).join("&");
      s = {id: uuid(), referrer: ref, query: utm, first: true};
    } else {
      s.first = false;
    }
    s.last = now;
    try { sessionStorage.setItem("ff_session", JSON.stringify(s)); } catch (e) { /* private mode */ }
    return s;
  }

  function text(v, n) { return v == null ? undefined : String(v).slice(0, n || 2048); }

  function push(type, props, extra) {
    if (dnt || !consented) return;
    var s = session();
    var e = {event_id: uuid(), type: type, client_ts: Date.now(), seq: ++seq,
             path: text(location.pathname), title: text(document.title)};
    if (type === "page_view" && s.first) { e.referrer = text(s.referrer) || undefined; e.query = text(s.query) || undefined; }
    if (props) e.props = props;
    for (var k in extra || {}) e[k] = extra[k];
    queue.push(e);
    if (queue.length >= MAX_BATCH) flush(); else if (!timer) timer = setTimeout(flush, FLUSH_MS);
  }

  function send(events, path) {
    var body = JSON.stringify({site: site, visitor: visitor(), session_hint: session().id, events: events});
    var url = endpoint + (path || "events");
    if (navigator.sendBeacon && navigator.sendBeacon(url, new Blob([body], {type: "application/json"}))) return;
    if (window.fetch) {
      fetch(url, {method: "POST", body: body, keepalive: true, headers: {"content-type": "application/json"}})
        .then(function (r) { if (r.status >= 500) keep(events); })
        .catch(function () { keep(events); });
    } else {
      keep(events);
    }
  }

  /* A retry buffer for batches that could not be sent (offline, collector down). */
  function keep(events) {
    try {
      var old = JSON.parse(localStorage.getItem("ff_retry") || "[]");
      localStorage.setItem("ff_retry", JSON.stringify(old.concat(events).slice(-MAX_RETRY)));
    } catch (e) { /* storage full or disabled: drop */ }
  }

  function retry() {
    try {
      var old = JSON.parse(localStorage.getItem("ff_retry") || "[]");
      localStorage.removeItem("ff_retry");
      for (var i = 0; i < old.length; i += MAX_BATCH) send(old.slice(i, i + MAX_BATCH));
    } catch (e) { /* nothing kept */ }
  }

  function flush() {
    clearTimeout(timer); timer = null;
    while (queue.length) {
      var batch = queue.splice(0, MAX_BATCH);
      var beats = batch.every(function (e) { return e.type === "heartbeat"; });
      send(batch, beats ? "presence" : "events");
    }
  }

  /* Core Web Vitals, reported once when the page is hidden. */
  var vitals = {}, vitalsSent = false;
  function observe(kind, fn) {
    try { new PerformanceObserver(function (l) { l.getEntries().forEach(fn); }).observe({type: kind, buffered: true}); } catch (e) { /* unsupported */ }
  }
  observe("largest-contentful-paint", function (e) { vitals.LCP = e.startTime; });
  observe("layout-shift", function (e) { if (!e.hadRecentInput) vitals.CLS = (vitals.CLS || 0) + e.value; });
  observe("event", function (e) { if (e.interactionId) vitals.INP = Math.max(vitals.INP || 0, e.duration); });
  function reportVitals() {
    if (vitalsSent) return;
    vitalsSent = true;
    var nav = performance.getEntriesByType && performance.getEntriesByType("navigation")[0];
    if (nav) vitals.TTFB = nav.responseStart;
    for (var name in vitals) {
      var v = name === "CLS" ? Math.round(vitals[name] * 1000) / 1000 : Math.round(vitals[name]);
      push("web_vital", {name: name, value: v});
    }
  }

  /* Scroll depth: the deepest point of the page seen so far, in per cent of its height,
   * sent with each heartbeat (and one more when the page is hidden or left). */
  var deepest = 0, lastBeat = 0;
  function measure() {
    var d = document.documentElement, b = document.body || d;
    var height = Math.max(d.scrollHeight, b.scrollHeight || 0);
    var seen = (window.pageYOffset || d.scrollTop || 0) + window.innerHeight;
    deepest = Math.max(deepest, height > 0 ? Math.min(100, Math.round(seen / height * 100)) : 100);
  }
  function beat(extra) {
    measure();
    lastBeat = Date.now();
    push("heartbeat", {scroll: deepest}, extra);
  }
  function leave() {
    if (Date.now() - lastBeat > 1000) beat();  /* visibilitychange and pagehide come together */
    reportVitals();
    flush();
  }

  function pageView() { deepest = 0; push("page_view"); }

  function start() {
    if (started || dnt || !consented) return;
    started = true;
    retry();
    pageView();
    /* Single-page apps: a route change is a page view. */
    ["pushState", "replaceState"].forEach(function (m) {
      var orig = history[m];
      history[m] = function () { var before = location.pathname; var r = orig.apply(this, arguments); if (location.pathname !== before) route(before); return r; };
    });
    /* A route change ends the old route's page view: its scroll depth, under its own path. */
    var shown = location.pathname;
    function route(before) { beat({path: text(before)}); shown = location.pathname; pageView(); }
    window.addEventListener("popstate", function () { if (location.pathname !== shown) route(shown); });
    var scrolled = null;
    window.addEventListener("scroll", function () { if (!scrolled) scrolled = setTimeout(function () { scrolled = null; measure(); }, 200); }, {passive: true});
    setInterval(function () { if (document.visibilityState === "visible") beat(); }, heartbeatMs);
    document.addEventListener("click", function (ev) {
      var el = ev.target && ev.target.closest ? ev.target.closest("[data-ff-track], a[href]") : null;
      if (!el) return;
      if (el.hasAttribute("data-ff-track")) return push("click", {name: text(el.getAttribute("data-ff-track"), 100)});
      var url; try { url = new URL(el.href, location.href); } catch (e) { return; }
      if (DOWNLOAD.test(url.pathname)) return push("download", {file: text(url.pathname, 300)});
      if (url.host !== location.host) push("click", {outbound: text(url.href, 300)});
    }, true);
    document.addEventListener("submit", function (ev) {
      var f = ev.target || {};
      push("form_submit", {form: text(f.id || f.getAttribute && f.getAttribute("name") || "form", 100)});
      flush();
    }, true);
    window.addEventListener("error", function (ev) {
      push("error", {message: text(ev.message, 300), source: text(ev.filename, 300), line: ev.lineno || 0});
    });
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "hidden") leave();
    });
    window.addEventListener("pagehide", leave);
  }

  window.footfall = {
    track: function (name, props) { push("custom", Object.assign({name: text(name, 100)}, props || {})); },
    consent: function (yes) { consented = !!yes; if (yes) start(); },
    flush: flush
  };
  start();
})();
