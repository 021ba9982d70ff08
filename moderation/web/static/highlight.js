/*
 * Highlights the spans that drove a comment's scores, building DOM text nodes only.
 *
 * Comment text is hostile (readers paste <script> and <img onerror> on purpose), so it is never
 * given to innerHTML: every piece becomes a text node, and the only elements created are <mark>s
 * made here. Span offsets come from Python, i.e. they count Unicode code points, while JavaScript
 * strings index UTF-16 units; an emoji before a span would shift every highlight, so the text is
 * cut by code points (Array.from) instead.
 */
"use strict";

(function (global) {
  /** Segments of `text` as [beginCp, endCp, coveringSpans[]], boundaries at every span edge. */
  function segments(length, spans) {
    const edges = new Set([0, length]);
    for (const span of spans) {
      edges.add(span.begin);
      edges.add(span.end);
    }
    const cuts = Array.from(edges).filter((x) => x >= 0 && x <= length).sort((a, b) => a - b);
    const out = [];
    for (let i = 0; i + 1 < cuts.length; i++) {
      const begin = cuts[i];
      const end = cuts[i + 1];
      if (end <= begin) continue;
      const covering = spans.filter((s) => s.begin <= begin && s.end >= end);
      out.push([begin, end, covering]);
    }
    return out;
  }

  /** Every span to show: {attribute, begin, end, score}, clamped to the text, empty ones dropped. */
  function collectSpans(spansByAttribute, attributes, length) {
    const out = [];
    if (!spansByAttribute || typeof spansByAttribute !== "object") return out;
    for (const attribute of attributes) {
      const list = spansByAttribute[attribute];
      if (!Array.isArray(list)) continue;
      for (const span of list) {
        const begin = Math.max(0, Math.min(length, Number(span.begin)));
        const end = Math.max(0, Math.min(length, Number(span.end)));
        if (!Number.isFinite(begin) || !Number.isFinite(end) || end <= begin) continue;
        out.push({ attribute: String(attribute), begin, end, score: Number(span.score) || 0 });
      }
    }
    return out;
  }

  /**
   * Replace the children of `container` with `text`, wrapping highlighted stretches in <mark>.
   * `attributes` chooses which attributes' spans to show (the flagged ones, usually).
   * Returns the number of <mark> elements made.
   */
  function render(container, text, spansByAttribute, attributes) {
    const doc = container.ownerDocument;
    while (container.firstChild) container.removeChild(container.firstChild);
    const points = Array.from(String(text));
    const spans = collectSpans(spansByAttribute, attributes, points.length);
    let marks = 0;
    for (const [begin, end, covering] of segments(points.length, spans)) {
      const piece = doc.createTextNode(points.slice(begin, end).join(""));
      if (covering.length === 0) {
        container.appendChild(piece);
        continue;
      }
      const mark = doc.createElement("mark");
      const strongest = Math.max(...covering.map((s) => s.score));
      mark.className = "span " + (strongest >= 0.5 ? "s3" : strongest >= 0.2 ? "s2" : "s1");
      mark.title = covering
        .map((s) => s.attribute + " " + Math.round(s.score * 100) + "%")
        .join(", ");
      mark.dataset.attributes = covering.map((s) => s.attribute).join(" ");
      mark.appendChild(piece);
      container.appendChild(mark);
      marks++;
    }
    return marks;
  }

  global.ModerationHighlight = { render, segments, collectSpans };
})(window);
