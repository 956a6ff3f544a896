// A small Markdown renderer for model text. Every character of the input is
// HTML-escaped first; only then is a safe subset turned into markup: paragraphs,
// headings, fenced and indented code blocks, inline code, emphasis, lists, quotes and
// links (http, https and mailto only, opened with rel="noopener noreferrer"). Raw
// HTML in the input always shows as text.

const ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

const SAFE_URL = /^(https?:\/\/|mailto:)/i;

// Inline markup of one escaped line of text (no code spans inside).
function inlineSpans(escaped) {
  return escaped
    .replace(/\[([^\]\n]+)\]\(([^)\s]+)\)/g, (whole, label, url) => {
      // `url` is already escaped: quotes cannot close the attribute.
      if (!SAFE_URL.test(url)) return whole;
      return `<a href="${url}" target="_blank" rel="noopener noreferrer">${label}</a>`;
    })
    .replace(/(^|[\s(])(https?:\/\/[^\s<]+[^\s<.,;:!?)'"&])/g,
      (whole, lead, url) => `${lead}<a href="${url}" target="_blank" rel="noopener noreferrer">${url}</a>`)
    .replace(/\*\*([^*\n]+)\*\*/g, '<strong>$1</strong>')
    .replace(/__([^_\n]+)__/g, '<strong>$1</strong>')
    .replace(/(^|[^*\w])\*([^*\s][^*\n]*?)\*(?!\w)/g, '$1<em>$2</em>')
    .replace(/(^|[^_\w])_([^_\s][^_\n]*?)_(?!\w)/g, '$1<em>$2</em>');
}

// Inline markup of raw text: code spans first (their content stays literal).
export function renderInline(text) {
  const parts = String(text).split(/(`+)([^`]|[^`][\s\S]*?[^`])\1(?!`)/);
  let html = '';
  for (let i = 0; i < parts.length; i += 3) {
    html += inlineSpans(escapeHtml(parts[i]));
    if (i + 2 < parts.length) html += `<code>${escapeHtml(parts[i + 2])}</code>`;
  }
  return html;
}

const FENCE = /^\s{0,3}(`{3,}|~{3,})\s*([\w+.#-]*)/;
const BULLET = /^\s{0,3}[-*+]\s+(.*)$/;
const ORDERED = /^\s{0,3}(\d{1,9})[.)]\s+(.*)$/;
const HEADING = /^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
const QUOTE = /^\s{0,3}>\s?(.*)$/;

// The whole text as HTML. An unclosed fence (an answer still streaming) runs to the end.
export function renderMarkdown(source) {
  const lines = String(source).replace(/\r\n?/g, '\n').split('\n');
  const out = [];
  let paragraph = [];
  const flush = () => {
    if (paragraph.length) out.push(`<p>${paragraph.map(renderInline).join('<br>')}</p>`);
    paragraph = [];
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const fence = FENCE.exec(line);
    if (fence) {
      flush();
      const marker = fence[1];
      const code = [];
      i++;
      while (i < lines.length && !lines[i].trimStart().startsWith(marker)) code.push(lines[i++]);
      const lang = fence[2] ? ` data-lang="${escapeHtml(fence[2])}"` : '';
      out.push(`<pre${lang}><code>${escapeHtml(code.join('\n'))}</code></pre>`);
      continue;
    }
    if (!line.trim()) { flush(); continue; }
    if (/^ {4}|^\t/.test(line) && !paragraph.length) {
      const code = [];
      while (i < lines.length && (/^ {4}|^\t/.test(lines[i]) || !lines[i].trim())) {
        code.push(lines[i].replace(/^ {4}|^\t/, ''));
        i++;
      }
      i--;
      while (code.length && !code[code.length - 1].trim()) code.pop();
      out.push(`<pre><code>${escapeHtml(code.join('\n'))}</code></pre>`);
      continue;
    }
    const heading = HEADING.exec(line);
    if (heading) {
      flush();
      const level = Math.min(heading[1].length + 2, 6);
      out.push(`<h${level}>${renderInline(heading[2])}</h${level}>`);
      continue;
    }
    if (BULLET.test(line) || ORDERED.test(line)) {
      flush();
      const ordered = !BULLET.test(line);
      const pattern = ordered ? ORDERED : BULLET;
      const items = [];
      while (i < lines.length && pattern.test(lines[i])) {
        const match = pattern.exec(lines[i]);
        let item = ordered ? match[2] : match[1];
        // Continuation lines indented under the item.
        while (i + 1 < lines.length && /^\s{2,}\S/.test(lines[i + 1]) && !pattern.test(lines[i + 1])) {
          item += ' ' + lines[++i].trim();
        }
        items.push(`<li>${renderInline(item)}</li>`);
        i++;
      }
      i--;
      const first = ordered ? Number(ORDERED.exec(lines[i - items.length + 1])?.[1] ?? 1) : 1;
      const start = ordered && first !== 1 ? ` start="${first}"` : '';
      out.push(ordered ? `<ol${start}>${items.join('')}</ol>` : `<ul>${items.join('')}</ul>`);
      continue;
    }
    if (QUOTE.test(line)) {
      flush();
      const quoted = [];
      while (i < lines.length && QUOTE.test(lines[i])) quoted.push(QUOTE.exec(lines[i++])[1]);
      i--;
      out.push(`<blockquote>${renderMarkdown(quoted.join('\n'))}</blockquote>`);
      continue;
    }
    paragraph.push(line);
  }
  flush();
  return out.join('');
}
