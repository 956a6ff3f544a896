// The transcript: stored messages and live turns drawn into the page. Model text goes
// through the Markdown renderer (which escapes all HTML); everything else (the user's
// words, tool names, arguments, results, commands) is set as text, never as markup.

import { renderMarkdown } from './markdown.js';
import { call } from './api.js';

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function prettyArguments(args) {
  try {
    return JSON.stringify(JSON.parse(args), null, 2);
  } catch {
    return String(args ?? '');
  }
}

function oneLine(text, max = 80) {
  const flat = String(text ?? '').replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

// A user message: the person's words (`said`, where the stored text adds the loop's
// `[now: …]` line and recalled memories for the model; else the text), and what was
// added, folded away.
export function userBubble(text, said) {
  const stored = String(text ?? '');
  const words = said ?? stored;
  const added = said != null && stored.startsWith(said) ? stored.slice(said.length).trim() : '';
  const bubble = el('div', 'msg user');
  bubble.append(el('div', 'who', 'You'), el('div', 'plain', words));
  if (added) {
    const details = el('details', 'added');
    details.append(el('summary', null, 'Added for the model'), el('pre', null, added));
    bubble.append(details);
  }
  return bubble;
}

// A compact, expandable row for one tool call: name, arguments, outcome.
function toolRow(call) {
  const row = el('details', 'tool');
  row.dataset.callId = call.id;
  const summary = el('summary');
  summary.append(
    el('span', 'tool-name', call.name),
    el('span', 'tool-args', oneLine(call.arguments)),
    el('span', 'tool-outcome pending', 'running'),
  );
  const body = el('div', 'tool-body');
  body.append(el('div', 'label', 'Arguments'), el('pre', 'tool-arguments', prettyArguments(call.arguments)));
  row.append(summary, body);
  return row;
}

function fillResult(row, result) {
  const outcome = row.querySelector('.tool-outcome');
  outcome.textContent = result.is_error ? 'error' : 'done';
  outcome.className = `tool-outcome ${result.is_error ? 'error' : 'ok'}`;
  const body = row.querySelector('.tool-body');
  body.querySelector('.tool-result')?.remove();
  body.querySelector('.tool-result-label')?.remove();
  body.append(el('div', 'label tool-result-label', 'Result'), el('pre', 'tool-result', result.content ?? ''));
}

// The messages of a stored session, as page elements.
export function renderTranscript(messages) {
  const fragment = document.createDocumentFragment();
  const rows = new Map();
  for (const message of messages) {
    if (message.role === 'user') {
      fragment.append(userBubble(message.text, message.said));
    } else if (message.role === 'assistant') {
      if (message.text) {
        const bubble = el('div', 'msg assistant');
        bubble.append(el('div', 'who', 'Hearth'));
        const body = el('div', 'md');
        body.innerHTML = renderMarkdown(message.text);
        bubble.append(body);
        if (message.provider_stop) bubble.append(el('div', 'note', `stopped by the provider: ${message.provider_stop}`));
        fragment.append(bubble);
      }
      for (const toolCall of message.tool_calls ?? []) {
        const row = toolRow(toolCall);
        rows.set(toolCall.id, row);
        fragment.append(row);
      }
    } else if (message.role === 'tool') {
      const row = rows.get(message.call_id);
      if (row) fillResult(row, message);
    }
  }
  return fragment;
}

// One turn as it happens: fed the turn's events in order.
export class TurnView {
  constructor(container, { onSettled, scroller } = {}) {
    this.container = container;
    this.scroller = scroller ?? container;
    this.onSettled = onSettled;
    this.bubble = null;
    this.text = '';
    this.pending = false;
    this.rows = new Map();
    this.done = false;
    this.detached = false; // the page moved to another session
  }

  append(node) {
    const list = this.scroller;
    const stick = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
    this.container.append(node);
    if (stick) list.scrollTop = list.scrollHeight;
  }

  ensureBubble() {
    if (this.bubble) return;
    this.bubble = el('div', 'msg assistant streaming');
    this.bubble.append(el('div', 'who', 'Hearth'));
    this.body = el('div', 'md');
    this.bubble.append(this.body);
    this.text = '';
    this.append(this.bubble);
  }

  draw() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      if (!this.body) return;
      this.body.innerHTML = renderMarkdown(this.text);
      const list = this.scroller;
      if (list.scrollHeight - list.scrollTop - list.clientHeight < 160) list.scrollTop = list.scrollHeight;
    });
  }

  handle(event) {
    if (this.detached) return;
    switch (event.type) {
      case 'text_delta':
        this.ensureBubble();
        this.text += event.text;
        this.draw();
        break;
      case 'retry':
        if (this.bubble) { this.text = ''; this.draw(); }
        this.append(el('div', 'note', `retrying (attempt ${event.attempt}): ${event.reason}`));
        break;
      case 'tool_call': {
        this.closeBubble();
        const row = toolRow(event.call);
        this.rows.set(event.call.id, row);
        this.append(row);
        break;
      }
      case 'tool_result': {
        const row = this.rows.get(event.result.call_id);
        if (row) fillResult(row, event.result);
        break;
      }
      case 'approval_requested':
        this.closeBubble();
        this.append(approvalCard(event));
        break;
      case 'final':
        if (event.text && !this.text && !this.rows.size) {
          this.ensureBubble();
          this.text = event.text;
          this.draw();
        }
        this.closeBubble();
        if (event.end?.kind && event.end.kind !== 'completed') {
          this.append(el('div', 'note', `turn ended: ${event.end.kind.replace(/_/g, ' ')}`));
        }
        this.settle();
        break;
      case 'error':
        this.closeBubble();
        this.append(el('div', 'note error', event.message));
        this.settle();
        break;
      default:
        break;
    }
  }

  closeBubble() {
    if (this.bubble && !this.detached) {
      this.bubble.classList.remove('streaming');
      if (!this.text) this.bubble.remove();
      else this.draw();
    }
    this.bubble = null;
  }

  settle() {
    if (this.done) return;
    this.done = true;
    this.onSettled?.();
  }
}

const DECISIONS = [
  ['Approve', 'approve', 'primary', 'Approved'],
  ['Always', 'always', '', 'Approved for this session'],
  ['Deny', 'deny', 'danger', 'Denied'],
];

// The question a turn asks: the command, where, why, and the three answers.
function approvalCard(request) {
  const card = el('div', 'approval');
  card.setAttribute('role', 'group');
  card.setAttribute('aria-label', 'Approval needed');
  card.dataset.approvalId = request.id;
  card.append(el('div', 'label', 'Run this command?'), el('pre', 'command', request.command));
  if (request.cwd) card.append(el('div', 'muted', `in ${request.cwd}`));
  card.append(el('p', 'reason', request.reason));
  const buttons = el('div', 'approval-buttons');
  const status = el('div', 'approval-status');
  status.setAttribute('role', 'status');
  for (const [name, decision, style, said] of DECISIONS) {
    const button = el('button', style, name);
    button.type = 'button';
    button.addEventListener('click', async () => {
      for (const b of buttons.querySelectorAll('button')) b.disabled = true;
      try {
        await call('POST', `/api/approvals/${encodeURIComponent(request.id)}`, { decision });
        status.textContent = said;
        card.dataset.answered = decision;
        buttons.remove();
      } catch (err) {
        status.textContent = err.message;
        for (const b of buttons.querySelectorAll('button')) b.disabled = false;
      }
    });
    buttons.append(button);
  }
  card.append(buttons, status);
  queueMicrotask(() => buttons.querySelector('button')?.focus({ preventScroll: true }));
  return card;
}
