// The memory page (search, where each item came from, forget, add a note) and the
// status page (model, sandbox, outbound destinations, skills, MCP servers, tokens and
// cost per session). Everything shown is set as text.

import { call } from './api.js';
import { relativeTime, titleOf } from './sessions.js';

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

export class MemoryPage {
  constructor(root, onError) {
    this.root = root;
    this.onError = onError;
    this.query = root.querySelector('#memory-query');
    this.note = root.querySelector('#memory-note');
    this.info = root.querySelector('#memory-info');
    this.results = root.querySelector('#memory-results');
    root.querySelector('#memory-search').addEventListener('submit', (event) => {
      event.preventDefault();
      this.search();
    });
    root.querySelector('#memory-add').addEventListener('submit', (event) => {
      event.preventDefault();
      this.add();
    });
  }

  async search() {
    const q = this.query.value.trim();
    this.info.textContent = 'Searching…';
    try {
      const { items } = await call('GET', `/api/memory?q=${encodeURIComponent(q)}`);
      this.info.textContent = q
        ? `${items.length} result${items.length === 1 ? '' : 's'} for “${q}”`
        : `${items.length} most recent memories`;
      this.draw(items);
    } catch (err) {
      this.info.textContent = '';
      this.onError(err);
    }
  }

  async add() {
    const text = this.note.value.trim();
    if (!text) return;
    try {
      const item = await call('POST', '/api/memory', { text });
      this.note.value = '';
      this.info.textContent = `Remembered as #${item?.id ?? '?'}`;
      if (item) this.results.prepend(this.itemRow(item));
    } catch (err) {
      this.onError(err);
    }
  }

  async forget(item, row) {
    try {
      await call('DELETE', `/api/memory/${encodeURIComponent(item.id)}`);
      row.remove();
      this.info.textContent = `Forgot #${item.id}`;
    } catch (err) {
      this.onError(err);
    }
  }

  itemRow(item) {
    const row = el('li', 'memory-item');
    row.dataset.id = item.id;
    const head = el('div', 'memory-head');
    const source = item.speaker ? `${item.source} · ${item.speaker}` : item.source;
    head.append(
      el('span', 'badge', `#${item.id}`),
      el('span', 'memory-source', source),
      el('time', 'muted', relativeTime(item.timestamp)),
    );
    const forget = el('button', 'danger small', 'Forget');
    forget.type = 'button';
    forget.setAttribute('aria-label', `Forget memory #${item.id}`);
    forget.addEventListener('click', () => this.forget(item, row));
    head.append(forget);
    row.append(head, el('div', 'memory-text', item.text));
    if (item.session && item.kind === 'turn') row.append(el('div', 'muted', `session ${item.session}`));
    return row;
  }

  draw(items) {
    this.results.replaceChildren(...items.map((item) => this.itemRow(item)));
  }
}

function definitions(pairs) {
  const list = el('dl', 'facts');
  for (const [term, value] of pairs) {
    list.append(el('dt', null, term), el('dd', null, value));
  }
  return list;
}

function table(headers, rows) {
  const wrap = el('div', 'table-wrap');
  const t = el('table');
  const head = el('tr');
  for (const h of headers) head.append(el('th', null, h));
  t.append(el('thead'), el('tbody'));
  t.tHead.append(head);
  for (const row of rows) {
    const tr = el('tr');
    for (const cell of row) tr.append(el('td', null, cell));
    t.tBodies[0].append(tr);
  }
  wrap.append(t);
  return wrap;
}

export async function renderStatus(root) {
  const status = await call('GET', '/api/status');
  const r = status.runtime;
  const parts = [];
  parts.push(el('h3', null, 'Agent'));
  parts.push(definitions([
    ['Model', r.model ?? `none: ${r.model_error ?? 'not configured'}`],
    ['Workspace', r.workspace],
    ['Sandbox', `${r.sandbox_mode} via ${r.sandbox_mechanism}${r.sandbox_available ? '' : ' (unavailable)'}`],
    ['Approvals', r.approval],
    ['Network in commands', r.network ? 'on' : 'off'],
    ['Running turns', String(status.running_turns)],
    ['Waiting approvals', String(status.pending_approvals)],
    ['Version', status.version],
  ]));
  parts.push(el('h3', null, 'Outbound destinations'));
  parts.push(definitions(r.outbound.map((d) => [d.name, d.target])));
  parts.push(el('h3', null, 'Skills'));
  parts.push(r.skills.length
    ? definitions(r.skills.map((s) => [s.name, s.description]))
    : el('p', 'muted', 'No skills found.'));
  parts.push(el('h3', null, 'MCP servers'));
  parts.push(r.mcp_servers.length
    ? el('p', null, r.mcp_servers.join(', '))
    : el('p', 'muted', 'None configured.'));
  parts.push(el('h3', null, 'Sessions: tokens and cost'));
  parts.push(status.sessions.length
    ? table(['Session', 'Input', 'Output', 'Cached', 'Cost'], status.sessions.map((s) => [
      titleOf(s.session),
      String(s.usage.input_tokens),
      String(s.usage.output_tokens),
      String(s.usage.cached_tokens),
      s.cost_usd ? `$${s.cost_usd.toFixed(4)}` : '—',
    ]))
    : el('p', 'muted', 'No sessions yet.'));
  root.replaceChildren(...parts);
}
