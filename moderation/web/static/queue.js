/*
 * The moderator's queue page: list and filter the queue, claim the next N comments, decide each.
 *
 * Everything talks to the same /v1 JSON API the publishing system uses; the session token rides
 * in an HttpOnly cookie and every call carries the CSRF header (the API accepts the cookie only
 * with it). Comment text and every other string from the server reach the page as text nodes or
 * textContent, never as HTML.
 */
"use strict";

(function () {
  const config = JSON.parse(document.getElementById("page-config").textContent);
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const urls = config.urls;
  const state = { cards: [], current: -1, clockOffset: 0, timer: null, restored: false, titles: new Map() };

  // ---- helpers -------------------------------------------------------------------------------

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    if (props) {
      for (const [key, value] of Object.entries(props)) {
        if (key === "class") node.className = value;
        else if (key === "text") node.textContent = value;
        else node.setAttribute(key, value);
      }
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, (_, key) => encodeURIComponent(values[key]));
  }

  let toastTimer = null;
  function toast(message, isError) {
    const box = document.getElementById("toast");
    box.textContent = message;
    box.className = "show" + (isError ? " error" : "");
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { box.className = ""; }, isError ? 6000 : 2500);
  }

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  /** One /v1 call with the CSRF header; a 401 sends the moderator back to the login page. */
  async function api(method, url, body) {
    const headers = { Accept: "application/json", "X-CSRF-Token": csrf };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(url, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const date = Date.parse(response.headers.get("Date") || "");
    if (Number.isFinite(date)) state.clockOffset = date - Date.now();
    const payload = response.status === 204 ? null : await response.json().catch(() => null);
    if (response.status === 401) {
      window.location.replace(urls.login_page);
      throw new ApiError(401, "unauthorized", "Sesja wygasła.");
    }
    if (!response.ok) {
      const error = (payload && payload.error) || {};
      throw new ApiError(response.status, error.code || "error", error.message || "HTTP " + response.status);
    }
    return payload;
  }

  function listOf(payload) {
    if (Array.isArray(payload)) return payload;
    if (!payload) return [];
    return payload.items || payload.comments || payload.results || [];
  }

  function pct(value) {
    return typeof value === "number" ? Math.round(value * 100) + "%" : "—";
  }

  function topScore(comment) {
    const scores = comment.scores || {};
    let best = null;
    for (const [name, value] of Object.entries(scores)) {
      if (typeof value === "number" && (best === null || value > best[1])) best = [name, value];
    }
    return best;
  }

  function age(iso) {
    const then = Date.parse(iso || "");
    if (!Number.isFinite(then)) return "";
    const seconds = Math.max(0, Math.round((Date.now() + state.clockOffset - then) / 1000));
    if (seconds < 60) return seconds + " s";
    if (seconds < 3600) return Math.round(seconds / 60) + " min";
    if (seconds < 86400) return Math.round(seconds / 3600) + " h";
    return Math.round(seconds / 86400) + " d";
  }

  const articleTitle = (c) => (c.article && (c.article.title || c.article.id)) || c.article_title || c.article_id || "";
  const articleId = (c) => (c.article && c.article.id) || c.article_id || "";
  const authorId = (c) => (c.author && c.author.id) || c.author_id || "";
  /** A scorer field (spans, stance, sentiment) at the top level or inside the stored result. */
  const resultField = (c, name) => (c[name] !== undefined ? c[name] : c.result && c.result[name]);

  function filters() {
    const form = document.getElementById("filters");
    const out = {};
    for (const name of ["status", "article_id", "language", "attribute", "min_score", "max_score", "order"]) {
      const value = form.elements[name].value.trim();
      if (value !== "") out[name] = name.endsWith("_score") ? Number(value) : value;
    }
    return out;
  }

  // ---- queue list and depth ------------------------------------------------------------------

  async function refreshQueue() {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(filters())) params.set(key, String(value));
    params.set("limit", "50");
    try {
      const items = listOf(await api("GET", urls.queue + "?" + params.toString()));
      renderQueue(items);
      if (!state.restored) {
        // After a reload, the comments this moderator still holds come back as cards.
        state.restored = true;
        for (const comment of items) {
          if (config.user && comment.claimed_by === config.user && leased(comment)) addCard(comment);
        }
        if (state.current < 0 && state.cards.length) focusCard(0);
      }
    } catch (exc) {
      if (exc.status !== 401) toast("Kolejka: " + exc.message, true);
    }
    refreshDepth();
  }

  /** True while someone holds a live lease on the comment. */
  function leased(comment) {
    const expires = Date.parse(comment.lease_expires_at || "");
    return Boolean(comment.claimed_by) && Number.isFinite(expires) && expires > Date.now() + state.clockOffset;
  }

  function renderQueue(items) {
    const body = document.querySelector("#queue-table tbody");
    body.replaceChildren();
    for (const comment of items) {
      const best = topScore(comment);
      const row = el(
        "tr",
        { "data-id": comment.id },
        el("td", { text: best ? pct(best[1]) + " " + best[0] : "—" }),
        el("td", { class: "text", title: String(comment.text || "") , text: String(comment.text || "") }),
        el("td", { text: String(comment.language || "") }),
        el("td", null,
          el("span", { class: "status " + String(comment.status || ""), text: String(comment.status || "") }),
          leased(comment) ? el("span", { class: "claimed-by muted", text: " 🔒 " + comment.claimed_by }) : null,
        ),
        el("td", { text: age(comment.submitted_at || comment.created_at) }),
      );
      body.appendChild(row);
    }
    document.getElementById("queue-empty").hidden = items.length > 0;
  }

  async function refreshDepth() {
    if (!urls.stats) return;
    try {
      const stats = await api("GET", urls.stats);
      const depth = (stats && (stats.depth || stats.queued || stats)) || {};
      const box = document.getElementById("depth");
      box.replaceChildren();
      for (const status of ["review", "held", "escalated"]) {
        if (typeof depth[status] === "number") {
          box.appendChild(el("span", { "data-status": status, text: status + ": " + depth[status] }));
        }
      }
    } catch (exc) {
      /* depth is a nicety; the list still works */
    }
  }

  // ---- claimed cards -------------------------------------------------------------------------

  async function claim() {
    const count = Math.max(1, Math.min(config.max_claim, Number(document.getElementById("filters").elements.count.value) || 1));
    const body = Object.assign({ count }, filters());
    try {
      const claimed = listOf(await api("POST", urls.claim, body));
      if (claimed.length === 0) toast("Nic do pobrania dla tych filtrów.");
      for (const comment of claimed) addCard(comment);
      if (state.current < 0 && state.cards.length) focusCard(0);
    } catch (exc) {
      if (exc.status !== 401) toast("Pobieranie: " + exc.message, true);
    }
    refreshQueue();
  }

  function addCard(comment) {
    const existing = state.cards.findIndex((card) => card.comment.id === comment.id);
    if (existing >= 0) removeCard(existing);
    const template = document.getElementById("card-template");
    const node = template.content.firstElementChild.cloneNode(true);
    node.dataset.id = comment.id;
    const card = { comment, node, expired: false };

    const title = node.querySelector(".title");
    title.textContent = articleTitle(comment) || "(bez artykułu)";
    if (articleId(comment) && !(comment.article && comment.article.title) && !comment.article_title) {
      articleTitleOf(articleId(comment)).then((known) => { if (known) title.textContent = known; });
    }
    node.querySelector(".ident").textContent =
      comment.id + " · autor " + (authorId(comment) || "?") + " · " + (comment.language || "?");
    const status = node.querySelector(".status");
    status.textContent = comment.status || "";
    status.classList.add(String(comment.status || ""));

    const flagged = Array.isArray(comment.flagged) ? comment.flagged.map(String) : [];
    const spans = resultField(comment, "spans") || {};
    // Flagged attributes first; else any toxicity attribute with spans (never stance/sentiment).
    const shown = flagged.length ? flagged : config.attributes;
    const text = node.querySelector(".comment-text");
    text.setAttribute("lang", String(comment.language || ""));
    window.ModerationHighlight.render(text, String(comment.text || ""), spans, shown);

    renderScores(node.querySelector(".scores"), comment.scores || {}, flagged);
    renderMeta(node.querySelector(".meta"), comment);

    const reason = node.querySelector(".reason");
    config.reasons.forEach((code, index) => {
      reason.appendChild(el("option", { value: code, text: (index < 9 ? index + 1 + ". " : "") + code }));
    });
    node.querySelector(".approve").addEventListener("click", () => decide(card, "approve"));
    node.querySelector(".reject").addEventListener("click", () => decide(card, "reject"));
    node.querySelector(".escalate").addEventListener("click", () => decide(card, "escalate"));
    node.querySelector(".release").addEventListener("click", () => release(card));
    node.addEventListener("focusin", () => { state.current = state.cards.indexOf(card); markCurrent(); });
    node.addEventListener("click", () => { state.current = state.cards.indexOf(card); markCurrent(); });
    const history = node.querySelector("details.history");
    history.addEventListener("toggle", () => { if (history.open) loadHistory(card); });

    document.getElementById("claimed").appendChild(node);
    state.cards.push(card);
    document.getElementById("claimed-empty").hidden = true;
    tickLeases();
  }

  function renderScores(box, scores, flagged) {
    box.replaceChildren();
    const names = config.attributes.filter((n) => n in scores).concat(Object.keys(scores).filter((n) => !config.attributes.includes(n)));
    for (const name of names) {
      const value = Number(scores[name]);
      const isFlagged = flagged.includes(name);
      const fillBar = el("div");
      // CSSOM, not a style attribute: the page's CSP forbids inline style attributes.
      fillBar.style.width = Math.round(Math.max(0, Math.min(1, value || 0)) * 100) + "%";
      const bar = el("div", { class: "bar" + (isFlagged ? " flag" : "") }, fillBar);
      box.appendChild(el("span", { class: "name" + (isFlagged ? " flag" : ""), "data-attribute": name, text: name + (isFlagged ? " ⚑" : "") }));
      box.appendChild(bar);
      box.appendChild(el("span", { class: "value", text: pct(value) }));
    }
  }

  function labelled(label, value) {
    return el("span", null, el("span", { class: "muted", text: label + ": " }), String(value));
  }

  /** "against 81%": a stance or sentiment label with the probability the head gave it. */
  function withProbability(head) {
    const scores = head.scores || {};
    const value = scores[head.label];
    return String(head.label) + (typeof value === "number" ? " " + pct(value) : "");
  }

  function renderMeta(box, comment) {
    box.replaceChildren();
    const decision = comment.decision || {};
    if (decision.rule) box.appendChild(labelled("reguła", decision.rule));
    const stance = resultField(comment, "stance");
    const sentiment = resultField(comment, "sentiment");
    if (stance && stance.label) {
      const context = stance.context === "comment_only" ? ", bez kontekstu artykułu" : "";
      box.appendChild(labelled("stanowisko", withProbability(stance) + context));
    }
    if (sentiment && sentiment.label) box.appendChild(labelled("wydźwięk", withProbability(sentiment)));
    if (articleId(comment)) box.appendChild(labelled("artykuł", articleId(comment)));
    if (comment.created_at || comment.submitted_at) {
      box.appendChild(labelled("dodany", age(comment.created_at || comment.submitted_at) + " temu"));
    }
    if (comment.supported === false) box.appendChild(labelled("język", (comment.language || "?") + " (nieobsługiwany)"));
    if (comment.model_version) box.appendChild(labelled("model", comment.model_version));
  }

  /** An article's title, asked once per article (queue items carry only its id). */
  function articleTitleOf(id) {
    if (!urls.article) return Promise.resolve("");
    if (!state.titles.has(id)) {
      state.titles.set(
        id,
        api("GET", fill(urls.article, { id })).then((a) => (a && a.title) || "", () => ""),
      );
    }
    return state.titles.get(id);
  }

  async function loadHistory(card) {
    const body = card.node.querySelector(".history-body");
    const author = authorId(card.comment);
    if (!author || !urls.author_history) { body.textContent = "Brak autora."; return; }
    try {
      const history = await api("GET", fill(urls.author_history, { id: author }));
      const comments = listOf(history.comments ? history.comments : history);
      body.replaceChildren();
      const counts = history.counts || history.stats;
      const summary = counts && typeof counts === "object" ? Object.entries(counts).map(([k, v]) => k + ": " + v) : [];
      if (typeof history.recent_rejections === "number") summary.push("odrzucone w ostatnich 30 dniach: " + history.recent_rejections);
      if (summary.length) body.appendChild(el("p", { class: "counts", text: summary.join(" · ") }));
      const list = el("ul");
      for (const past of comments) {
        if (past.id === card.comment.id) continue;
        const decided = past.decided_by
          ? " — " + (past.status || "") + (past.reason ? " (" + past.reason + ")" : "") + ", " + past.decided_by
          : "";
        list.appendChild(
          el("li", null,
            el("span", { class: "status " + String(past.status || ""), text: String(past.status || "") }), " ",
            el("span", { class: "muted", text: age(past.submitted_at || past.created_at) + " " }),
            String(past.text || ""),
            decided ? el("span", { class: "muted", text: decided + (past.note ? ": " + past.note : "") }) : null,
            reopenable(past) ? reopenButton(past.id, "review", () => loadHistory(card)) : null,
          ),
        );
      }
      if (!list.childElementCount) body.appendChild(el("p", { text: "Brak wcześniejszych komentarzy." }));
      else body.appendChild(list);
    } catch (exc) {
      if (exc.status !== 401) body.textContent = "Nie udało się pobrać historii: " + exc.message;
    }
  }

  // ---- looking up one comment, reopening a decided one (admins) -------------------------------

  const FINAL = ["published", "approved", "rejected"];

  /** Only admins may reopen (the API checks it again); only a decided comment can be. */
  function reopenable(comment) {
    return config.role === "admin" && Boolean(urls.reopen) && FINAL.includes(String(comment.status));
  }

  /** A button that sends a decided comment back to the queue, then calls ``done(record)``. */
  function reopenButton(id, status, done, noteOf) {
    const button = el("button", { type: "button", class: "reopen", "data-id": id, text: "Otwórz ponownie" });
    button.addEventListener("click", async () => {
      const body = { status: typeof status === "function" ? status() : status };
      const note = noteOf ? noteOf() : "";
      if (note) body.note = note;
      button.disabled = true;
      try {
        const record = await api("POST", fill(urls.reopen, { id }), body);
        toast("Otwarto ponownie: " + id + " (" + record.status + ")");
        done(record);
        refreshQueue();
      } catch (exc) {
        button.disabled = false;
        if (exc.status !== 401) toast("Ponowne otwarcie: " + exc.message, true);
      }
    });
    return button;
  }

  async function lookup(id) {
    const box = document.getElementById("lookup-result");
    if (!id || !urls.comment) { box.replaceChildren(); return; }
    try {
      renderLookup(box, await api("GET", fill(urls.comment, { id })));
    } catch (exc) {
      if (exc.status === 401) return;
      box.replaceChildren(el("p", { class: "error-text", text: exc.status === 404 ? "Nie ma komentarza o id " + id + "." : exc.message }));
    }
  }

  function renderLookup(box, comment) {
    const decided = comment.decided_by
      ? (comment.reason ? comment.reason + ", " : "") + comment.decided_by + (comment.note ? ": " + comment.note : "")
      : "";
    const steps = el("ol");
    for (const entry of comment.history || []) {
      steps.appendChild(el("li", null,
        el("span", { text: String(entry.action) + " " }),
        el("span", { class: "muted", text: [entry.from_status, entry.to_status].filter(Boolean).join(" → ") + " · " + String(entry.actor || "") + " · " + age(entry.at) }),
        entry.note ? el("span", { class: "muted", text: ": " + entry.note }) : null,
      ));
    }
    const result = el("div", { class: "looked-up", "data-id": comment.id },
      el("div", null,
        el("strong", { text: String(comment.id) + " " }),
        el("span", { class: "status " + String(comment.status || ""), text: String(comment.status || "") }),
        decided ? el("span", { class: "muted decided", text: " " + decided }) : null,
      ),
      el("div", { class: "comment-text", lang: String(comment.language || ""), text: String(comment.text || "") }),
      steps,
    );
    if (reopenable(comment)) {
      const target = el("select", { class: "reopen-status", "aria-label": "Dokąd" },
        el("option", { value: "review", text: "do przejrzenia (widoczny)" }),
        el("option", { value: "held", text: "ukryj do decyzji (held)" }));
      const note = el("input", { class: "reopen-note", maxlength: "2000", placeholder: "Dlaczego (opcjonalnie)", "aria-label": "Dlaczego" });
      result.appendChild(el("div", { class: "reopen-row" }, target, note,
        reopenButton(comment.id, () => target.value, () => lookup(comment.id), () => note.value.trim())));
    }
    box.replaceChildren(result);
  }

  async function decide(card, action) {
    if (card.expired) { toast("Blokada wygasła — pobierz komentarz ponownie.", true); return; }
    const reason = card.node.querySelector(".reason").value;
    const note = card.node.querySelector(".note").value.trim();
    if (action === "reject" && !reason) {
      toast("Wybierz powód odrzucenia (1–9).", true);
      card.node.querySelector(".reason").focus();
      return;
    }
    const body = { action };
    if (action === "reject") body.reason = reason;
    if (note) body.note = note;
    setBusy(card, true);
    try {
      await api("POST", fill(urls.decide, { id: card.comment.id }), body);
      toast(({ approve: "Zatwierdzono", reject: "Odrzucono", escalate: "Przekazano wyżej" })[action] + ": " + card.comment.id);
      removeCard(state.cards.indexOf(card));
      refreshQueue();
    } catch (exc) {
      setBusy(card, false);
      if (exc.status === 401) return;
      if (exc.code === "lease_expired" || exc.code === "not_lease_holder") markExpired(card);
      toast("Decyzja: " + exc.message, true);
    }
  }

  async function release(card) {
    if (!urls.release) return;
    try {
      if (!card.expired) await api("POST", fill(urls.release, { id: card.comment.id }));
    } catch (exc) {
      if (exc.status === 401) return;
      if (exc.status !== 409) { toast("Oddawanie: " + exc.message, true); return; }
    }
    removeCard(state.cards.indexOf(card));
    refreshQueue();
  }

  function setBusy(card, busy) {
    for (const button of card.node.querySelectorAll("button")) button.disabled = busy || (card.expired && !button.classList.contains("release"));
  }

  function removeCard(index) {
    if (index < 0) return;
    const [card] = state.cards.splice(index, 1);
    card.node.remove();
    document.getElementById("claimed-empty").hidden = state.cards.length > 0;
    if (!state.cards.length) state.current = -1;
    else focusCard(Math.min(index, state.cards.length - 1));
  }

  function focusCard(index) {
    if (!state.cards.length) return;
    state.current = (index + state.cards.length) % state.cards.length;
    markCurrent();
    const node = state.cards[state.current].node;
    node.focus({ preventScroll: true });
    node.scrollIntoView({ block: "nearest" });
  }

  function markCurrent() {
    state.cards.forEach((card, i) => card.node.classList.toggle("current", i === state.current));
  }

  function markExpired(card) {
    card.expired = true;
    card.node.classList.add("expired");
    card.node.querySelector(".lease").textContent = "blokada wygasła";
    setBusy(card, false);
  }

  // ---- lease countdown -----------------------------------------------------------------------

  function tickLeases() {
    const now = Date.now() + state.clockOffset;
    for (const card of state.cards) {
      if (card.expired) continue;
      const expires = Date.parse(card.comment.lease_expires_at || "");
      const lease = card.node.querySelector(".lease");
      if (!Number.isFinite(expires)) { lease.textContent = ""; continue; }
      const left = Math.round((expires - now) / 1000);
      if (left <= 0) { markExpired(card); continue; }
      lease.textContent = Math.floor(left / 60) + ":" + String(left % 60).padStart(2, "0");
      lease.classList.toggle("low", left <= 30);
    }
  }

  // ---- keyboard ------------------------------------------------------------------------------

  function onKey(event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    const typing = target instanceof HTMLElement && (target.matches("input, textarea") || target.isContentEditable);
    if (typing) {
      if (event.key === "Escape") target.blur();
      return;
    }
    const card = state.current >= 0 ? state.cards[state.current] : null;
    const key = event.key;
    if (key === "?") { document.getElementById("help").showModal(); }
    else if (key === "c") { claim(); }
    else if (key === "j") { focusCard(state.current + 1); }
    else if (key === "k") { focusCard(state.current - 1); }
    else if (!card) { return; }
    else if (key === "a") { decide(card, "approve"); }
    else if (key === "r") { decide(card, "reject"); }
    else if (key === "e") { decide(card, "escalate"); }
    else if (key === "u") { release(card); }
    else if (key === "n") { card.node.querySelector(".note").focus(); }
    else if (key === "h") { const d = card.node.querySelector("details.history"); d.open = !d.open; }
    else if (/^[1-9]$/.test(key) && Number(key) <= config.reasons.length) {
      card.node.querySelector(".reason").value = config.reasons[Number(key) - 1];
    } else { return; }
    event.preventDefault();
  }

  // ---- start ---------------------------------------------------------------------------------

  document.addEventListener("DOMContentLoaded", () => {
    document.getElementById("whoami").textContent = config.user || "";
    document.getElementById("filters").addEventListener("submit", (event) => { event.preventDefault(); refreshQueue(); });
    document.getElementById("claim").addEventListener("click", claim);
    document.getElementById("lookup").addEventListener("submit", (event) => {
      event.preventDefault();
      lookup(event.target.elements.comment_id.value.trim());
    });
    document.getElementById("help-button").addEventListener("click", () => document.getElementById("help").showModal());
    document.getElementById("logout").addEventListener("click", async () => {
      if (urls.logout_api) { try { await api("POST", urls.logout_api); } catch (exc) { /* leaving anyway */ } }
      await fetch(urls.logout, { method: "POST", headers: { "X-CSRF-Token": csrf }, credentials: "same-origin" });
      window.location.replace(urls.login_page);
    });
    document.addEventListener("keydown", onKey);
    state.timer = setInterval(tickLeases, 1000);
    setInterval(refreshDepth, 15000);
    refreshQueue();
  });
})();
