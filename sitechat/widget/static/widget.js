/*! SiteChat widget. Embed: <script src="https://HOST/widget.js" data-chatbot-id="ID" async></script>
 * Plain ES2017, no build step, no dependencies. Everything it shows is built with createElement
 * and textContent: no HTML from an answer, a source or a chatbot setting is ever parsed.
 * Hooks for integrators and tests: host element #sitechat-widget (open shadow root) and
 * data-sitechat="launcher | input | send | message-user | message-assistant | message-agent |
 * citation | lead-form | lead-name | lead-email | lead-submit | lead-thanks | handoff | handback"
 * inside it.
 */
(() => {
  'use strict';

  const HOST_ID = 'sitechat-widget';
  if (document.getElementById(HOST_ID)) return; // the script was included twice

  const script =
    document.currentScript ||
    document.querySelector('script[data-chatbot-id][src*="widget"]');
  if (!script) return;
  const chatbotId = (script.getAttribute('data-chatbot-id') || '').trim();
  // The API lives where the script came from (also behind a path prefix).
  const apiBase = script.src.replace(/\/widget(?:\/[^/?#]+)?\.js(?:[?#].*)?$/, '');
  if (!/^[0-9a-f-]{36}$/i.test(chatbotId)) {
    console.warn('SiteChat: data-chatbot-id is missing or is not a chatbot id.');
    return;
  }

  const STORAGE_KEY = 'sitechat:' + chatbotId;
  const TOKEN_MARGIN_MS = 60000; // a token this close to expiry is not used again
  const HISTORY_LIMIT = 50;
  const STALL_MS = 45000; // the server pings every 10 s; silence this long is a lost connection
  const MAX_QUESTION_CHARS = 4000;
  // While a person is asked for, the history is read again this often, at most this many
  // times per opening of the panel (half an hour), and never while it is closed.
  const POLL_MS = 4000;
  const MAX_POLLS = 450;

  const TEXT = {
    open: 'Open chat',
    close: 'Close chat',
    input: 'Your question',
    placeholder: 'Type your question…',
    send: 'Send',
    sources: 'Sources',
    you: 'You said:',
    assistant: 'Assistant said:',
    agent: 'Team member',
    typing: 'The assistant is typing…',
    refused: "This chat isn't available on this website.",
    unavailable: "This chat isn't available right now.",
    quota: 'This chat has reached its message limit for now. Please try again later.',
    rateLimited: (seconds) =>
      "You're sending messages too quickly. Please wait " + seconds +
      (seconds === 1 ? ' second' : ' seconds') + ' and try again.',
    busy: 'The chat is busy right now. Please try again in a moment.',
    notReady: "The assistant isn't ready yet. Please try again later.",
    tooLong: 'That message is too long. Please shorten it and try again.',
    network: "Can't reach the chat. Check your connection and try again.",
    offline: "You're offline. Reconnect to keep chatting.",
    failed: 'Sorry, something went wrong while answering. Please try again.',
    failedStored: 'This answer could not be completed.',
    interrupted: 'The answer was interrupted.',
    expired: 'Your previous conversation expired, so a new one was started.',
    retry: 'Retry',
    leadName: 'Name',
    leadEmail: 'Email',
    leadSend: 'Send my contact',
    leadInvalid: 'Please fill in each field; the email should look like name@example.com.',
    leadTooMany: "You've already sent your contact several times in this chat.",
    leadThanks: 'Thank you! We will get back to you.',
    handoff: 'Talk to a person',
    handoffOff: "A person isn't available in this chat.",
    handback: 'Back to the assistant',
    handedBack: "You're talking to the assistant again.",
  };

  // --- small helpers -------------------------------------------------------------------------

  const ENTITIES = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };

  // Chatbot settings are stored HTML-escaped (the server's display-text rule); shown as text,
  // they are decoded once.
  function decodeEntities(value) {
    return String(value || '').replace(/&(#[xX][0-9a-fA-F]{1,6}|#\d{1,7}|[a-zA-Z]{2,6});/g,
      (match, entity) => {
        if (entity[0] === '#') {
          const hex = entity[1] === 'x' || entity[1] === 'X';
          const code = parseInt(entity.slice(hex ? 2 : 1), hex ? 16 : 10);
          return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : match;
        }
        const decoded = ENTITIES[entity.toLowerCase()];
        return decoded === undefined ? match : decoded;
      });
  }

  function safeUrl(raw) {
    try {
      const url = new URL(String(raw));
      return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
    } catch (error) {
      return null;
    }
  }

  function el(tag, attributes, children) {
    const node = document.createElement(tag);
    if (attributes) {
      for (const name of Object.keys(attributes)) {
        const value = attributes[name];
        if (value === null || value === undefined || value === false) continue;
        if (name === 'text') node.textContent = value;
        else if (name === 'className') node.className = value;
        else node.setAttribute(name, value === true ? '' : String(value));
      }
    }
    for (const child of children || []) if (child) node.appendChild(child);
    return node;
  }

  const SVG_NS = 'http://www.w3.org/2000/svg';
  function icon(pathData) {
    const svg = document.createElementNS(SVG_NS, 'svg');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('width', '22');
    svg.setAttribute('height', '22');
    svg.setAttribute('aria-hidden', 'true');
    svg.setAttribute('focusable', 'false');
    const path = document.createElementNS(SVG_NS, 'path');
    path.setAttribute('d', pathData);
    path.setAttribute('fill', 'currentColor');
    svg.appendChild(path);
    return svg;
  }
  const ICON_CHAT = 'M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2z';
  const ICON_CLOSE = 'M6.4 5 12 10.6 17.6 5 19 6.4 13.4 12l5.6 5.6-1.4 1.4-5.6-5.6L6.4 19 5 17.6 10.6 12 5 6.4z';
  const ICON_SEND = 'M3 20.5v-7l9-1.5-9-1.5v-7L22 12z';

  function relativeLuminance(hex) {
    const channel = (i) => {
      const c = parseInt(hex.slice(i, i + 2), 16) / 255;
      return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
    };
    return 0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5);
  }
  function contrast(a, b) {
    const [light, dark] = a > b ? [a, b] : [b, a];
    return (light + 0.05) / (dark + 0.05);
  }

  // --- safe Markdown: DOM nodes only -----------------------------------------------------------

  const FENCE = /^\s{0,3}(`{3,}|~{3,})\s*([\w+#.-]*)\s*$/;
  const HEADING = /^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
  const LIST_ITEM = /^(\s*)([-*+]|\d{1,9}[.)])\s+(.*)$/;
  const QUOTE = /^\s{0,3}>\s?(.*)$/;
  const RULE = /^\s{0,3}([-*_])(?:\s*\1){2,}\s*$/;
  // A table: a header row, a separator row ("| --- | ---: |"), then its rows.
  const TABLE_ROW = /^\s{0,3}\|.*\|\s*$/;
  const TABLE_SEPARATOR = /^\s{0,3}\|(?:\s*:?-{3,}:?\s*\|)+\s*$/;
  // A paragraph of citation marks only ("[1]", "[1] [2]").
  const MARKS_ONLY = /^(?:\s*\[\d{1,3}\])+\s*$/;

  // A closing fence: the opening's character, at least as many, nothing else on the line.
  function closesFence(line, fence) {
    const match = /^\s{0,3}(`{3,}|~{3,})\s*$/.exec(line);
    return Boolean(match) && match[1][0] === fence[0] && match[1].length >= fence.length;
  }

  function isBlockStart(line) {
    return FENCE.test(line) || HEADING.test(line) || LIST_ITEM.test(line) || QUOTE.test(line) ||
      RULE.test(line) || TABLE_ROW.test(line);
  }

  // A currency and its amount ("EUR 390", "25 €") never part at a narrow cell's edge.
  const VALUE_SPACE = /([£€$]|\b[A-Z]{3}) (?=\d)|(\d) (?=[£€$]|[A-Z]{3}\b)/g;

  function tableCells(line) {
    return line.trim().slice(1, -1).split('|')
      .map((cell) => cell.trim().replace(VALUE_SPACE, '$1$2\u00a0'));
  }

  // Where the marks citing a block go: a table's last cell, a list's last item, a quote's last
  // block, after a code block's code (on its last line); nowhere for a paragraph or a heading.
  function blockEnd(block) {
    if (!block) return null;
    if (block.className === 'md-table') {
      const rows = block.querySelectorAll('tr');
      return rows[rows.length - 1].lastChild;
    }
    if (block.tagName === 'UL' || block.tagName === 'OL') return block.lastChild;
    if (block.tagName === 'PRE') return block;
    if (block.tagName === 'BLOCKQUOTE') return blockEnd(block.lastChild) || block.lastChild;
    return null;
  }

  function renderMarkdown(text, citations) {
    const fragment = document.createDocumentFragment();
    const lines = String(text).replace(/\r\n?/g, '\n').split('\n');
    let i = 0;
    while (i < lines.length) {
      const line = lines[i];
      let match;
      if (!line.trim()) {
        i += 1;
      } else if ((match = FENCE.exec(line))) {
        const fence = match[1];
        const body = [];
        i += 1;
        while (i < lines.length && !closesFence(lines[i], fence)) {
          body.push(lines[i]);
          i += 1;
        }
        i += 1; // the closing fence (absent while an answer is still streaming)
        const code = el('code', { text: body.join('\n') });
        if (match[2]) code.setAttribute('data-language', match[2]);
        fragment.appendChild(el('pre', null, [code]));
      } else if ((match = HEADING.exec(line))) {
        const heading = el('p', { className: 'md-heading' });
        heading.appendChild(inline(match[2], citations));
        fragment.appendChild(heading);
        i += 1;
      } else if (TABLE_ROW.test(line) && i + 1 < lines.length && TABLE_SEPARATOR.test(lines[i + 1])) {
        const header = el('tr', null, tableCells(line).map((cell) => el('th', { scope: 'col' }, [inline(cell, citations)])));
        const body = [];
        i += 2;
        while (i < lines.length && TABLE_ROW.test(lines[i])) {
          body.push(el('tr', null, tableCells(lines[i]).map((cell) => el('td', null, [inline(cell, citations)]))));
          i += 1;
        }
        fragment.appendChild(el('div', { className: 'md-table' }, [
          el('table', null, [el('thead', null, [header]), el('tbody', null, body)]),
        ]));
      } else if (RULE.test(line)) {
        fragment.appendChild(el('hr'));
        i += 1;
      } else if (QUOTE.test(line)) {
        const quoted = [];
        while (i < lines.length && (match = QUOTE.exec(lines[i]))) {
          quoted.push(match[1]);
          i += 1;
        }
        fragment.appendChild(el('blockquote', null, [renderMarkdown(quoted.join('\n'), citations)]));
      } else if ((match = LIST_ITEM.exec(line))) {
        const ordered = /\d/.test(match[2]);
        const list = el(ordered ? 'ol' : 'ul');
        if (ordered && parseInt(match[2], 10) !== 1) list.setAttribute('start', parseInt(match[2], 10));
        const baseIndent = match[1].length;
        let item = null;
        let itemText = [];
        const flush = () => {
          if (item) {
            item.appendChild(inlineLines(itemText, citations));
            list.appendChild(item);
          }
        };
        while (i < lines.length) {
          const current = lines[i];
          const itemMatch = LIST_ITEM.exec(current);
          if (itemMatch && /\d/.test(itemMatch[2]) === ordered) {
            flush();
            item = el('li');
            if (itemMatch[1].length > baseIndent + 1) item.className = 'md-nested';
            itemText = [itemMatch[3]];
          } else if (current.trim() && !itemMatch && /^\s/.test(current) && item) {
            itemText.push(current.trim()); // a continuation line of the item
          } else {
            break;
          }
          i += 1;
        }
        flush();
        fragment.appendChild(list);
      } else {
        const paragraph = [];
        while (i < lines.length && lines[i].trim() && (paragraph.length === 0 || !isBlockStart(lines[i]))) {
          paragraph.push(lines[i]);
          i += 1;
        }
        // The marks citing a block end it, as they end a sentence, instead of standing alone
        // on a line below it.
        const end = MARKS_ONLY.test(paragraph.join(' ')) ? blockEnd(fragment.lastChild) : null;
        if (end) end.appendChild(inline(paragraph.join(' ').trim(), citations));
        else fragment.appendChild(el('p', null, [inlineLines(paragraph, citations)]));
      }
    }
    return fragment;
  }

  function inlineLines(lines, citations) {
    const fragment = document.createDocumentFragment();
    lines.forEach((line, index) => {
      if (index) fragment.appendChild(el('br'));
      fragment.appendChild(inline(line.trim(), citations));
    });
    return fragment;
  }

  const LINK = /^\[([^\]\n]+)\]\(\s*<?([^\s)>]+)>?(?:\s+"[^"\n]*")?\s*\)/;
  const CITATION_MARK = /^\[(\d{1,3})\](?!\()/;
  const BARE_URL = /^https?:\/\/[^\s<>"'`]+/;

  function link(href, children) {
    const anchor = el('a', { href: href, target: '_blank', rel: 'noopener noreferrer nofollow' });
    anchor.appendChild(children);
    return anchor;
  }

  // Inline Markdown: code spans, bold, italic, links (http and https only), bare URLs and the
  // answer's [n] citation marks. Unknown syntax stays as the text it was.
  function inline(text, citations, insideLink) {
    const fragment = document.createDocumentFragment();
    let plain = '';
    const flush = () => {
      if (plain) fragment.appendChild(document.createTextNode(plain));
      plain = '';
    };
    let i = 0;
    while (i < text.length) {
      const rest = text.slice(i);
      const char = text[i];
      let match;
      if (char === '\\' && i + 1 < text.length && /[\\`*_[\]()#+\-.!>~|]/.test(text[i + 1])) {
        plain += text[i + 1];
        i += 2;
        continue;
      }
      if (char === '`') {
        const ticks = /^`+/.exec(rest)[0];
        const end = text.indexOf(ticks, i + ticks.length);
        if (end > 0) {
          flush();
          fragment.appendChild(el('code', { text: text.slice(i + ticks.length, end).trim() || ' ' }));
          i = end + ticks.length;
          continue;
        }
      }
      if ((char === '*' || char === '_') && text[i + 1] === char) {
        const marker = char + char;
        const end = text.indexOf(marker, i + 2);
        if (end > i + 2 && !/\s/.test(text[i + 2]) && !/\s/.test(text[end - 1])) {
          flush();
          const strong = el('strong');
          strong.appendChild(inline(text.slice(i + 2, end), citations, insideLink));
          fragment.appendChild(strong);
          i = end + 2;
          continue;
        }
      }
      if ((char === '*' || char === '_') && text[i + 1] && !/\s/.test(text[i + 1])) {
        const wordBefore = i > 0 && /\w/.test(text[i - 1]);
        if (!(char === '_' && wordBefore)) {
          let end = i + 1;
          while ((end = text.indexOf(char, end + 1)) > 0) {
            if (!/\s/.test(text[end - 1]) && !(char === '_' && /\w/.test(text[end + 1] || ''))) break;
          }
          if (end > i + 1) {
            flush();
            const emphasis = el('em');
            emphasis.appendChild(inline(text.slice(i + 1, end), citations, insideLink));
            fragment.appendChild(emphasis);
            i = end + 1;
            continue;
          }
        }
      }
      if (char === '[' && !insideLink && (match = LINK.exec(rest))) {
        flush();
        const href = safeUrl(match[2]);
        const label = inline(match[1], citations, true);
        fragment.appendChild(href ? link(href, label) : label);
        i += match[0].length;
        continue;
      }
      if (char === '[' && (match = CITATION_MARK.exec(rest))) {
        flush();
        const number = parseInt(match[1], 10);
        const cited = (citations || []).find((citation) => citation.number === number);
        const href = cited && safeUrl(cited.url);
        const mark = el('sup', { className: 'md-cite' });
        const label = document.createTextNode('[' + number + ']');
        if (href && !insideLink) {
          const anchor = link(href, label);
          anchor.setAttribute('aria-label', 'Source ' + number);
          mark.appendChild(anchor);
        } else {
          mark.appendChild(label);
        }
        fragment.appendChild(mark);
        i += match[0].length;
        continue;
      }
      if (char === 'h' && !insideLink && (match = BARE_URL.exec(rest)) &&
          (i === 0 || !/\w/.test(text[i - 1]))) {
        const url = match[0].replace(/[.,;:!?)\]]+$/, '');
        const href = safeUrl(url);
        if (href) {
          flush();
          fragment.appendChild(link(href, document.createTextNode(url)));
          i += url.length;
          continue;
        }
      }
      plain += char;
      i += 1;
    }
    flush();
    return fragment;
  }

  // --- conversation storage ---------------------------------------------------------------------

  let memorySession = null; // where localStorage is unavailable (some private modes)

  function loadSession() {
    let saved = memorySession;
    try {
      saved = JSON.parse(window.localStorage.getItem(STORAGE_KEY) || 'null') || memorySession;
    } catch (error) { /* storage refused: the in-memory copy */ }
    if (saved && saved.conversationId && saved.token && saved.expiresAt > Date.now() + TOKEN_MARGIN_MS) {
      return saved;
    }
    if (saved) clearSession();
    return null;
  }

  function saveSession(conversation) {
    memorySession = {
      conversationId: conversation.conversation_id,
      token: conversation.visitor_token,
      expiresAt: Date.now() + conversation.expires_in * 1000,
    };
    try {
      window.localStorage.setItem(STORAGE_KEY, JSON.stringify(memorySession));
    } catch (error) { /* kept in memory only */ }
    return memorySession;
  }

  // Remembered next to the conversation: whether its lead was sent and a person was asked for.
  function updateSession(changes) {
    const session = loadSession();
    if (!session) return;
    memorySession = Object.assign(session, changes);
    try {
      window.localStorage.setItem(STORAGE_KEY, JSON.stringify(memorySession));
    } catch (error) { /* kept in memory only */ }
  }

  function clearSession() {
    memorySession = null;
    try {
      window.localStorage.removeItem(STORAGE_KEY);
    } catch (error) { /* nothing stored */ }
  }

  // --- HTTP ---------------------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, retryAfter, problemType) {
      super('SiteChat API ' + status);
      this.status = status;
      this.retryAfter = retryAfter;
      this.problemType = problemType || '';
    }
  }

  async function apiError(response) {
    let problemType = '';
    try {
      problemType = (await response.json()).type || '';
    } catch (error) { /* not a problem body */ }
    const retryAfter = parseInt(response.headers.get('Retry-After') || '', 10);
    return new ApiError(response.status, retryAfter > 0 ? retryAfter : null, problemType);
  }

  async function request(path, options) {
    const response = await fetch(apiBase + path, Object.assign({ credentials: 'omit' }, options));
    if (!response.ok) throw await apiError(response);
    return response;
  }

  function authorization(session) {
    return { Authorization: 'Bearer ' + session.token };
  }

  function messageFor(error) {
    if (!(error instanceof ApiError)) return navigator.onLine === false ? TEXT.offline : TEXT.network;
    switch (error.status) {
      case 402: return TEXT.quota;
      case 403: return TEXT.refused;
      case 404: return TEXT.unavailable;
      case 409: return TEXT.notReady;
      case 413:
      case 422: return TEXT.tooLong;
      case 429: return TEXT.rateLimited(error.retryAfter || 30);
      case 503: return TEXT.busy;
      default: return TEXT.failed;
    }
  }

  // Server-sent events from a fetch body: `event: <type>` / `data: <json>` frames.
  async function readEvents(response, onEvent, controller) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    let stallTimer = setTimeout(() => controller.abort(), STALL_MS);
    try {
      for (;;) {
        const chunk = await reader.read();
        clearTimeout(stallTimer);
        if (chunk.done) break;
        stallTimer = setTimeout(() => controller.abort(), STALL_MS);
        buffer += decoder.decode(chunk.value, { stream: true });
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let type = 'message';
          const data = [];
          for (const line of frame.split('\n')) {
            if (!line || line[0] === ':') continue;
            const colon = line.indexOf(':');
            const field = colon < 0 ? line : line.slice(0, colon);
            const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
            if (field === 'event') type = value;
            else if (field === 'data') data.push(value);
          }
          if (data.length) onEvent(type, JSON.parse(data.join('\n')));
        }
      }
    } finally {
      clearTimeout(stallTimer);
    }
  }

  // --- styles -----------------------------------------------------------------------------------

  const CSS = `
:host { all: initial; }
*, *::before, *::after { box-sizing: border-box; }
.root { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  font-size: 15px; line-height: 1.45; color: #1f2937; -webkit-font-smoothing: antialiased; }
.launcher { position: fixed; bottom: 20px; right: 20px; z-index: 2147483000; display: inline-flex;
  align-items: center; justify-content: center; gap: 8px; height: 52px; min-width: 52px; padding: 0 18px;
  border: 0; border-radius: 26px; background: var(--sc-primary); color: var(--sc-on-primary);
  font: inherit; font-weight: 600; cursor: pointer; box-shadow: 0 6px 20px rgba(15, 23, 42, .25); }
.launcher.icon-only { padding: 0; width: 52px; }
.launcher-icon { display: flex; }
.left .launcher { right: auto; left: 20px; }
.launcher:hover { filter: brightness(1.06); }
button:focus-visible, a:focus-visible { outline: 3px solid var(--sc-focus); outline-offset: 2px; }
/* On the header's theme colour a ring of that colour would not show: the header text's colour. */
.header button:focus-visible { outline-color: currentColor; }
.panel { position: fixed; bottom: 84px; right: 20px; z-index: 2147483001; width: 380px;
  max-width: calc(100vw - 40px); height: 600px; max-height: calc(100vh - 108px); display: flex;
  flex-direction: column; background: #fff; border-radius: 16px; overflow: hidden;
  box-shadow: 0 12px 40px rgba(15, 23, 42, .28); }
.left .panel { right: auto; left: 20px; }
.panel[hidden] { display: none; }
.header { display: flex; align-items: center; gap: 10px; padding: 12px 12px 12px 16px;
  background: var(--sc-primary); color: var(--sc-on-primary); }
.avatar { width: 32px; height: 32px; border-radius: 50%; object-fit: cover; flex: none;
  background: rgba(255, 255, 255, .3); }
.title { margin: 0; flex: 1; font-size: 16px; font-weight: 600; overflow: hidden;
  text-overflow: ellipsis; white-space: nowrap; }
.close { flex: none; display: inline-flex; align-items: center; justify-content: center; width: 40px;
  height: 40px; border: 0; border-radius: 8px; background: transparent; color: inherit; cursor: pointer; }
.close:hover { background: rgba(255, 255, 255, .18); }
.messages { flex: 1; overflow-y: auto; padding: 16px; display: flex; flex-direction: column; gap: 12px;
  background: #f8fafc; overscroll-behavior: contain; }
/* The conversation takes focus to be scrolled from the keyboard: the theme's ring, inside its
   edges, which the panel clips. */
.messages:focus-visible { outline: 3px solid var(--sc-focus); outline-offset: -3px; }
.msg { display: flex; flex-direction: column; max-width: 88%; align-self: flex-start; }
.msg-user { align-self: flex-end; }
.bubble { padding: 10px 14px; border-radius: 16px; overflow-wrap: anywhere; background: #fff;
  border: 1px solid #e5e7eb; border-bottom-left-radius: 4px; }
.msg-user .bubble { background: var(--sc-primary); color: var(--sc-on-primary); border-color: transparent;
  border-radius: 16px; border-bottom-right-radius: 4px; white-space: pre-wrap; }
.msg-agent .bubble { background: #fffbeb; border-color: #fcd34d; }
.sender { font-size: 12px; font-weight: 600; color: #92400e; margin: 0 0 3px 4px; }
.note { align-self: center; max-width: 100%; font-size: 13px; color: #64748b; text-align: center; }
.muted { color: #64748b; font-style: italic; }
.bubble p, .bubble ul, .bubble ol, .bubble pre, .bubble blockquote { margin: 0 0 8px; }
.bubble > :last-child { margin-bottom: 0; }
.bubble .md-heading { font-weight: 700; }
.bubble ul, .bubble ol { padding-left: 22px; }
.bubble .md-table { overflow-x: auto; margin: 0 0 8px; }
.bubble table { border-collapse: collapse; font-size: 13px; }
.bubble th, .bubble td { border: 1px solid #e2e8f0; padding: 4px 8px; text-align: left; vertical-align: top;
  overflow-wrap: break-word; }
.bubble th { background: #f8fafc; font-weight: 600; }
.bubble li.md-nested { margin-left: 18px; }
.bubble blockquote { padding-left: 10px; border-left: 3px solid #cbd5e1; color: #475569; }
.bubble hr { border: 0; border-top: 1px solid #e5e7eb; margin: 8px 0; }
.bubble code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .88em; }
.bubble :not(pre) > code { background: #eef2f7; padding: 1px 5px; border-radius: 4px; }
.bubble pre { background: #0f172a; color: #e2e8f0; padding: 10px 12px; border-radius: 8px;
  overflow-x: auto; white-space: pre; }
.bubble a, .citations a { color: var(--sc-link); text-decoration: underline; }
.msg-user .bubble a { color: inherit; }
.md-cite { font-size: .75em; line-height: 0; margin-left: 1px; white-space: nowrap; }
/* A mark after a code block's last line is in the answer's type and colour, apart from the code,
   and is left out when the code is selected to be copied. */
.bubble pre { font-family: inherit; }
.bubble pre .md-cite { margin-left: 4px; -webkit-user-select: none; user-select: none; }
.bubble pre .md-cite a { color: inherit; }
.citations { margin: 6px 0 0 4px; font-size: 13px; color: #475569; }
.citations ol { margin: 2px 0 0; padding-left: 20px; }
.citations li { margin: 2px 0; overflow-wrap: anywhere; }
.typing { display: inline-flex; gap: 4px; padding: 4px 0; }
.dot { width: 7px; height: 7px; border-radius: 50%; background: #94a3b8; animation: sc-blink 1.2s infinite; }
.dot:nth-child(2) { animation-delay: .2s; }
.dot:nth-child(3) { animation-delay: .4s; }
@keyframes sc-blink { 0%, 80%, 100% { opacity: .3; } 40% { opacity: 1; } }
.suggestions { display: flex; flex-wrap: wrap; gap: 8px; padding: 0 16px 12px; background: #f8fafc; }
.suggestions[hidden] { display: none; }
.suggestion { border: 1px solid var(--sc-link); color: var(--sc-link); background: #fff; border-radius: 16px;
  padding: 6px 12px; font: inherit; font-size: 14px; cursor: pointer; text-align: left; }
.suggestion:hover { background: #f1f5f9; }
.status { margin: 0; padding: 10px 16px; background: #fef2f2; color: #991b1b; font-size: 14px;
  border-top: 1px solid #fecaca; display: flex; gap: 8px; align-items: center; }
.status[hidden] { display: none; }
.status span { flex: 1; }
.status button { border: 1px solid #991b1b; background: #fff; color: #991b1b; border-radius: 6px;
  padding: 3px 10px; font: inherit; font-size: 13px; cursor: pointer; }
.composer { display: flex; gap: 8px; padding: 12px; border-top: 1px solid #e5e7eb; background: #fff;
  align-items: flex-end; }
textarea { flex: 1; resize: none; border: 1px solid #cbd5e1; border-radius: 10px; padding: 10px 12px;
  font: inherit; color: inherit; background: #fff; min-height: 44px; max-height: 120px; margin: 0; }
textarea:disabled { background: #f1f5f9; }
/* A text field's own border is its focus ring: one 2px ring, not an outline around a grey border.
   The transparent outline is drawn in forced-colors mode, which drops the shadow. */
textarea:focus, .lead input:focus { outline: 2px solid transparent; border-color: var(--sc-focus);
  box-shadow: 0 0 0 1px var(--sc-focus); }
.send { flex: none; display: inline-flex; align-items: center; justify-content: center; width: 44px;
  height: 44px; border: 0; border-radius: 10px; background: var(--sc-primary); color: var(--sc-on-primary);
  cursor: pointer; }
.send:disabled { opacity: .45; cursor: not-allowed; }
.lead { align-self: stretch; display: flex; flex-direction: column; gap: 6px; margin: 0; padding: 12px 14px;
  background: #fff; border: 1px solid #e5e7eb; border-radius: 12px; }
.lead p { margin: 0; }
.lead label { margin-top: 4px; font-size: 13px; font-weight: 600; color: #374151; }
.lead input { font: inherit; color: inherit; background: #fff; border: 1px solid #cbd5e1; border-radius: 8px;
  padding: 8px 10px; margin: 0; width: 100%; }
.lead input[aria-invalid="true"] { border-color: #b91c1c; }
.lead input[aria-invalid="true"]:focus { box-shadow: 0 0 0 1px #b91c1c; }
.lead .lead-error { color: #991b1b; font-size: 13px; }
.lead .lead-error[hidden] { display: none; }
.lead-send { align-self: flex-start; margin-top: 6px; border: 0; border-radius: 8px; padding: 8px 14px;
  background: var(--sc-primary); color: var(--sc-on-primary); font: inherit; font-weight: 600; cursor: pointer; }
.lead-send:disabled { opacity: .6; cursor: wait; }
/* Room below for the focus ring (3 px outline, 2 px offset) of the link-like buttons, which the
   panel's edge and rounded corner cut with less. */
.actions { display: flex; justify-content: flex-end; padding: 0 12px 10px; background: #fff; }
.actions[hidden] { display: none; }
.handoff { border: 0; background: none; color: var(--sc-link); font: inherit; font-size: 13px;
  text-decoration: underline; cursor: pointer; padding: 6px 4px; }
.handoff:disabled { opacity: .6; cursor: wait; }
.handoff[hidden] { display: none; }
.vh { position: absolute !important; width: 1px; height: 1px; padding: 0; margin: -1px; overflow: hidden;
  clip: rect(0 0 0 0); white-space: nowrap; border: 0; }
@media (max-width: 480px) {
  .panel, .left .panel { top: 0; right: 0; bottom: 0; left: 0; width: 100%; max-width: none; height: 100%;
    max-height: none; border-radius: 0; }
  .open .launcher { display: none; }
  .launcher { bottom: 16px; right: 16px; }
  .left .launcher { left: 16px; }
}
/* A phone held sideways: above the launcher the panel would leave the messages a strip. */
@media (max-height: 480px) {
  .panel { top: 0; right: 0; bottom: 0; height: 100%; max-height: none; border-radius: 0; }
  .left .panel { right: auto; left: 0; }
  .open .launcher { display: none; }
}
/* Safari on a phone zooms into a focused field whose text is under 16 px. */
@media (max-width: 480px), (max-height: 480px) {
  textarea, .lead input { font-size: 16px; }
}
@media (prefers-reduced-motion: reduce) { .dot { animation: none; opacity: .7; } }
`;

  function adoptStyles(shadow) {
    // A constructed stylesheet is not an inline <style>, so a host page's strict CSP allows it.
    if ('adoptedStyleSheets' in Document.prototype && 'replaceSync' in CSSStyleSheet.prototype) {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
      shadow.adoptedStyleSheets = [sheet];
    } else {
      shadow.appendChild(el('style', { text: CSS }));
    }
  }

  // --- the widget ---------------------------------------------------------------------------------

  const DEFAULT_THEME = { primary_color: '#2563eb', position: 'right', launcher_text: 'Ask a question', avatar_url: null };

  function mount(config) {
    const theme = Object.assign({}, DEFAULT_THEME, (config && config.theme) || {});
    const color = /^#[0-9a-f]{6}$/i.test(theme.primary_color) ? theme.primary_color : DEFAULT_THEME.primary_color;
    const luminance = relativeLuminance(color);
    const onPrimary = contrast(luminance, 1) >= contrast(luminance, 0) ? '#ffffff' : '#111827';
    const linkColor = contrast(luminance, 1) >= 3 ? color : '#1d4ed8';
    const name = decodeEntities(config ? config.name : '') || 'Chat';
    const launcherText = decodeEntities(theme.launcher_text);

    const host = document.createElement('div');
    host.id = HOST_ID;
    // Inline !important wins over any rule of the host page: it cannot hide or move the host.
    host.style.cssText = 'all: initial !important; display: block !important; position: static !important;' +
      ' visibility: visible !important; opacity: 1 !important;';
    const shadow = host.attachShadow({ mode: 'open' });
    adoptStyles(shadow);

    const root = el('div', { className: 'root' + (theme.position === 'left' ? ' left' : '') });
    root.style.setProperty('--sc-primary', color);
    root.style.setProperty('--sc-on-primary', onPrimary);
    root.style.setProperty('--sc-link', linkColor);
    root.style.setProperty('--sc-focus', linkColor);

    const launcherLabel = el('span', { text: launcherText });
    const launcherIcon = el('span', { className: 'launcher-icon' }, [icon(ICON_CHAT)]);
    const launcher = el('button', {
      type: 'button', className: 'launcher' + (launcherText ? '' : ' icon-only'),
      'data-sitechat': 'launcher', 'aria-expanded': 'false', 'aria-controls': 'sitechat-panel',
      'aria-label': launcherText ? null : TEXT.open,
    }, [launcherIcon, launcherText ? launcherLabel : null]);

    const avatarUrl = theme.avatar_url && safeUrl(theme.avatar_url);
    const avatar = avatarUrl && /^https:/.test(avatarUrl) ? el('img', { className: 'avatar', src: avatarUrl, alt: '' }) : null;
    const closeButton = el('button', { type: 'button', className: 'close', 'aria-label': TEXT.close }, [icon(ICON_CLOSE)]);
    const header = el('div', { className: 'header' }, [
      avatar, el('h2', { className: 'title', id: 'sitechat-title', text: name }), closeButton,
    ]);
    const log = el('div', {
      className: 'messages', role: 'log', 'aria-live': 'polite', 'aria-relevant': 'additions',
      'aria-label': name, tabindex: '0',
    });
    const suggestions = el('div', { className: 'suggestions', hidden: true });
    const statusText = el('span');
    const retryButton = el('button', { type: 'button', text: TEXT.retry, hidden: true });
    const status = el('div', { className: 'status', role: 'alert', hidden: true }, [statusText, retryButton]);
    const input = el('textarea', {
      id: 'sitechat-input', rows: '1', maxlength: String(MAX_QUESTION_CHARS), placeholder: TEXT.placeholder,
      'data-sitechat': 'input', autocomplete: 'off',
    });
    const sendButton = el('button', { type: 'submit', className: 'send', 'data-sitechat': 'send', 'aria-label': TEXT.send }, [icon(ICON_SEND)]);
    const composer = el('form', { className: 'composer' }, [
      el('label', { className: 'vh', for: 'sitechat-input', text: TEXT.input }), input, sendButton,
    ]);
    const handoffButton = el('button', { type: 'button', className: 'handoff', 'data-sitechat': 'handoff', text: TEXT.handoff });
    const backButton = el('button', { type: 'button', className: 'handoff', 'data-sitechat': 'handback', text: TEXT.handback });
    const actions = el('div', { className: 'actions', hidden: true }, [handoffButton, backButton]);
    const panel = el('div', {
      className: 'panel', id: 'sitechat-panel', role: 'dialog', 'aria-modal': 'false',
      'aria-labelledby': 'sitechat-title', hidden: true,
    }, [header, log, suggestions, status, composer, actions]);
    root.appendChild(panel);
    root.appendChild(launcher);
    shadow.appendChild(root);
    document.body.appendChild(host);

    const state = {
      open: false, started: false, busy: false, refused: false, blockedUntil: 0, retry: null,
      hasUserMessages: false, userMessages: 0, sawFallback: false, leadShown: false,
      handedOff: false, pollTimer: 0, polls: 0, seen: new Set(), lastAnswerId: null,
      // The chatbot's setting: "Talk to a person" is offered only when someone will answer.
      handoffEnabled: Boolean(config && config.handoff_enabled === true),
    };
    const lead = (config && config.lead_capture) || {};
    const leadFields = (lead.fields || []).filter((field) => field === 'name' || field === 'email');

    // -- rendering

    function nearBottom() {
      return log.scrollHeight - log.scrollTop - log.clientHeight < 80;
    }
    function scrollDown(force) {
      if (force || nearBottom()) log.scrollTop = log.scrollHeight;
    }

    function showStatus(message, retry) {
      // The bar takes its height from the conversation: keep the latest message in view.
      const stick = nearBottom();
      statusText.textContent = message;
      state.retry = retry || null;
      retryButton.hidden = !retry;
      status.hidden = false;
      if (stick) scrollDown(true);
    }
    function clearStatus() {
      status.hidden = true;
      statusText.textContent = '';
      state.retry = null;
    }

    function updateComposer() {
      const blocked = state.refused || state.busy || Date.now() < state.blockedUntil;
      sendButton.disabled = blocked || !input.value.trim();
      input.disabled = Boolean(state.refused);
      // While a person is asked for, the way back is shown whatever the setting says.
      actions.hidden = !config || state.refused || (!state.handedOff && !state.handoffEnabled);
      handoffButton.hidden = state.handedOff;
      backButton.hidden = !state.handedOff;
      handoffButton.disabled = backButton.disabled = state.busy;
    }

    function addNote(text) {
      log.appendChild(el('p', { className: 'note', text: text }));
      scrollDown(true);
    }

    function addUserMessage(text) {
      const message = el('div', { className: 'msg msg-user', 'data-sitechat': 'message-user' }, [
        el('span', { className: 'vh', text: TEXT.you + ' ' }),
        el('div', { className: 'bubble', text: text }),
      ]);
      log.appendChild(message);
      state.hasUserMessages = true;
      state.userMessages += 1;
      suggestions.hidden = true;
      scrollDown(true);
    }

    // The page's title, and the section the answer quotes when the title does not say it
    // ("os — Miscellaneous ... › os.rmdir(path)"): several sections of one page stay apart.
    function sourceLabel(citation, href) {
      const title = decodeEntities(citation.title || '');
      const headings = decodeEntities(citation.heading || '').split(' > ');
      const section = headings[headings.length - 1].replace(/`/g, '').trim();
      if (title && section && !title.includes(section)) return title + ' › ' + section;
      return title || section || (href ? new URL(href).hostname : 'Source');
    }

    function renderCitations(container, citations) {
      while (container.firstChild) container.removeChild(container.firstChild);
      const seen = new Set();
      const items = [];
      for (const citation of citations || []) {
        const href = safeUrl(citation.url);
        const key = href || citation.title;
        if (seen.has(key)) continue;
        seen.add(key);
        const label = sourceLabel(citation, href);
        const entry = href
          ? el('a', { href: href, target: '_blank', rel: 'noopener noreferrer nofollow', 'data-sitechat': 'citation', text: label })
          : el('span', { 'data-sitechat': 'citation', text: label });
        // Numbered as the answer's [n] marks.
        items.push(el('li', { value: citation.number > 0 ? citation.number : null }, [entry]));
      }
      container.hidden = items.length === 0;
      if (items.length) {
        container.appendChild(el('span', { text: TEXT.sources }));
        container.appendChild(el('ol', null, items));
      }
    }

    // An assistant (or agent) message whose text and citations can change while it streams.
    function addAnswer(role) {
      const agent = role === 'agent';
      const bubble = el('div', { className: 'bubble' });
      const citations = el('div', { className: 'citations', hidden: true });
      const message = el('div', {
        className: 'msg ' + (agent ? 'msg-agent' : 'msg-assistant'),
        'data-sitechat': agent ? 'message-agent' : 'message-assistant',
      }, [
        agent ? el('span', { className: 'sender', text: TEXT.agent }) : el('span', { className: 'vh', text: TEXT.assistant + ' ' }),
        bubble, citations,
      ]);
      log.appendChild(message);
      const answer = {
        text: '', citations: [], element: message, frame: 0,
        render() {
          answer.frame = 0;
          const stick = nearBottom();
          while (bubble.firstChild) bubble.removeChild(bubble.firstChild);
          bubble.appendChild(renderMarkdown(answer.text, answer.citations));
          renderCitations(citations, answer.citations);
          if (stick) scrollDown(true);
        },
        schedule() {
          if (!answer.frame) answer.frame = requestAnimationFrame(answer.render);
        },
        typing(on) {
          message.setAttribute('aria-busy', on ? 'true' : 'false');
          if (on) {
            bubble.appendChild(el('span', { className: 'typing' }, [
              el('span', { className: 'vh', text: TEXT.typing }),
              el('span', { className: 'dot' }), el('span', { className: 'dot' }), el('span', { className: 'dot' }),
            ]));
          }
        },
        finish(note) {
          if (answer.frame) cancelAnimationFrame(answer.frame);
          answer.render();
          message.setAttribute('aria-busy', 'false');
          if (note) bubble.appendChild(el('p', { className: 'muted', text: note }));
          if (!answer.text && !note) message.parentNode.removeChild(message);
        },
      };
      return answer;
    }

    function showWelcome() {
      const welcome = decodeEntities(config && config.welcome_message);
      if (welcome) {
        const answer = addAnswer('assistant');
        answer.element.classList.add('welcome');
        answer.element.removeAttribute('data-sitechat');
        answer.text = welcome;
        answer.render();
      }
      const questions = ((config && config.suggested_questions) || []).map(decodeEntities).filter(Boolean);
      while (suggestions.firstChild) suggestions.removeChild(suggestions.firstChild);
      for (const question of questions) {
        const button = el('button', { type: 'button', className: 'suggestion', text: question });
        button.addEventListener('click', () => ask(question));
        suggestions.appendChild(button);
      }
      suggestions.hidden = questions.length === 0 || state.hasUserMessages;
    }

    function showStored(message) {
      state.seen.add(message.id);
      if (message.role === 'assistant') state.lastAnswerId = message.id;
      if (message.fallback) state.sawFallback = true;
      if (message.role === 'user') {
        addUserMessage(message.content);
        return;
      }
      const agent = message.role === 'agent';
      const answer = addAnswer(agent ? 'agent' : 'assistant');
      // A person's reply is display text, stored HTML-escaped like the chatbot's settings.
      answer.text = agent ? decodeEntities(message.content) : message.content || '';
      answer.citations = message.citations || [];
      let note = null;
      if (message.status === 'failed') note = answer.text ? TEXT.interrupted : TEXT.failedStored;
      else if (message.status === 'partial') note = TEXT.interrupted;
      answer.finish(note);
    }

    // -- conversation

    async function loadHistory() {
      const session = loadSession();
      if (!session) return;
      try {
        const response = await request(
          '/v1/public/conversations/' + session.conversationId + '/messages?order=desc&limit=' + HISTORY_LIMIT,
          { headers: authorization(session) });
        const page = await response.json();
        page.items.slice().reverse().forEach(showStored);
        const latest = page.items.find((message) => message.role === 'assistant');
        // A notice the visitor already went back from (`backAfter`) is no hand-off running.
        const notice = latest && latest.handoff_notice && latest.id !== session.backAfter;
        if (session.handedOff || notice) setHandedOff(true);
        scrollDown(true);
      } catch (error) {
        if (error instanceof ApiError && [401, 403, 404].indexOf(error.status) >= 0) {
          clearSession(); // expired or gone: the next question starts a new conversation
        } else {
          showStatus(messageFor(error), () => { clearStatus(); loadHistory(); });
        }
      }
    }

    async function newConversation() {
      // No body and no custom header: a simple CORS request, without a preflight.
      const response = await request('/v1/public/chatbots/' + chatbotId + '/conversations', { method: 'POST' });
      return saveSession(await response.json());
    }

    async function streamAnswer(session, question, answer) {
      const controller = new AbortController();
      const response = await request('/v1/public/conversations/' + session.conversationId + '/messages', {
        method: 'POST',
        headers: Object.assign({ 'Content-Type': 'application/json', Accept: 'text/event-stream' }, authorization(session)),
        body: JSON.stringify({ content: question, stream: true }),
        signal: controller.signal,
      });
      let outcome = null;
      await readEvents(response, (type, data) => {
        if (type === 'message_start') {
          state.seen.add(data.user_message_id);
          state.seen.add(data.assistant_message_id);
          state.lastAnswerId = data.assistant_message_id;
        } else if (type === 'delta') {
          answer.text += data.text || '';
          answer.schedule();
        } else if (type === 'citations') {
          answer.citations = data.citations || [];
          answer.schedule();
        } else if (type === 'done' || type === 'error') {
          outcome = { type: type, data: data };
        }
      }, controller);
      return outcome;
    }

    async function ask(question) {
      question = question.trim();
      if (!question || state.busy || state.refused || Date.now() < state.blockedUntil) return;
      clearStatus();
      state.busy = true;
      input.value = '';
      resizeInput();
      updateComposer();
      addUserMessage(question);
      const answer = addAnswer('assistant');
      answer.typing(true);
      let note = null;
      try {
        let session = loadSession();
        if (!session) session = await newConversation();
        let outcome;
        try {
          outcome = await streamAnswer(session, question, answer);
        } catch (error) {
          if (!(error instanceof ApiError && error.status === 401)) throw error;
          // The visitor token expired: a new conversation, and the question asked there.
          clearSession();
          session = await newConversation();
          addNote(TEXT.expired);
          log.appendChild(answer.element); // keep the answer below the note
          outcome = await streamAnswer(session, question, answer);
        }
        if (!outcome) {
          note = TEXT.interrupted;
          showStatus(TEXT.network);
        } else if (outcome.type === 'error') {
          note = answer.text ? TEXT.interrupted : null;
          showStatus(outcome.data.code === 'quota-exceeded' ? TEXT.quota : TEXT.failed);
        } else if (outcome.data.fallback) {
          state.sawFallback = true;
        }
      } catch (error) {
        note = answer.text ? TEXT.interrupted : null;
        handleError(error);
      } finally {
        // Whatever happened, the typing dots go.
        answer.finish(note);
        state.busy = false;
        updateComposer();
        offerLead();
      }
    }

    // -- lead capture: an inline form at the moment the chatbot's `lead_capture` says

    function offerLead() {
      if (!lead.enabled || !leadFields.length || state.leadShown || state.refused) return;
      const session = loadSession();
      if (session && session.leadSent) return;
      const due = lead.when === 'start' ||
        (lead.when === 'after_messages' && state.userMessages >= (lead.after_messages || 1)) ||
        (lead.when === 'on_fallback' && state.sawFallback);
      if (due) showLeadForm();
    }

    function showLeadForm() {
      state.leadShown = true;
      const inputs = leadFields.map((field) => el('input', {
        id: 'sitechat-lead-' + field, name: field, type: field === 'email' ? 'email' : 'text',
        autocomplete: field, required: true, maxlength: field === 'email' ? '254' : '120',
        'data-sitechat': 'lead-' + field,
      }));
      const error = el('p', { className: 'lead-error', role: 'alert', hidden: true });
      const submit = el('button', { type: 'submit', className: 'lead-send', 'data-sitechat': 'lead-submit', text: TEXT.leadSend });
      const children = [el('p', { id: 'sitechat-lead-prompt', text: decodeEntities(lead.prompt) })];
      leadFields.forEach((field, index) => {
        children.push(el('label', { for: inputs[index].id, text: field === 'email' ? TEXT.leadEmail : TEXT.leadName }), inputs[index]);
      });
      // Validated here, so the message is ours and the same in every browser.
      const form = el('form', {
        className: 'lead', 'data-sitechat': 'lead-form', 'aria-labelledby': 'sitechat-lead-prompt', novalidate: true,
      }, children.concat([error, submit]));
      const fail = (message, field) => {
        error.textContent = message;
        error.hidden = false;
        if (field) field.focus();
        // The message made the form taller: keep its button in view.
        const below = form.getBoundingClientRect().bottom - log.getBoundingClientRect().bottom + 12;
        if (below > 0) log.scrollTop += below;
      };
      form.addEventListener('submit', async (event) => {
        event.preventDefault();
        const invalid = inputs.filter((input) => !input.value.trim() || !input.checkValidity());
        inputs.forEach((input) => input.setAttribute('aria-invalid', String(invalid.indexOf(input) >= 0)));
        if (invalid.length) return fail(TEXT.leadInvalid, invalid[0]);
        error.hidden = true;
        submit.disabled = true;
        const body = {};
        leadFields.forEach((field, index) => { body[field] = inputs[index].value.trim(); });
        try {
          const session = loadSession() || await newConversation();
          await request('/v1/public/conversations/' + session.conversationId + '/lead', {
            method: 'POST',
            headers: Object.assign({ 'Content-Type': 'application/json' }, authorization(session)),
            body: JSON.stringify(body),
          });
          updateSession({ leadSent: true });
          form.parentNode.replaceChild(el('p', { className: 'note', role: 'status', 'data-sitechat': 'lead-thanks', text: TEXT.leadThanks }), form);
        } catch (failure) {
          submit.disabled = false;
          if (failure instanceof ApiError && failure.status === 409) {
            form.parentNode.removeChild(form); // the chatbot stopped collecting contacts
          } else if (failure instanceof ApiError && failure.status === 422) {
            fail(TEXT.leadInvalid, inputs[0]);
          } else if (failure instanceof ApiError && /too-many-lead/.test(failure.problemType)) {
            fail(TEXT.leadTooMany);
          } else {
            fail(messageFor(failure));
          }
        }
      });
      log.appendChild(form);
      scrollDown(true);
    }

    // -- hand-off: a person is asked for; their replies (role `agent`) arrive by polling

    function setHandedOff(on) {
      state.handedOff = on;
      updateComposer();
      schedulePoll();
    }

    function schedulePoll() {
      clearTimeout(state.pollTimer);
      if (state.open && state.handedOff && state.polls < MAX_POLLS) state.pollTimer = setTimeout(poll, POLL_MS);
    }

    async function poll() {
      state.polls += 1;
      const session = loadSession();
      if (session && !state.busy) {
        try {
          const response = await request(
            '/v1/public/conversations/' + session.conversationId + '/messages?order=desc&limit=' + HISTORY_LIMIT,
            { headers: authorization(session) });
          const page = await response.json();
          // Messages this window already shows (streamed ones too, by their ids) are skipped.
          page.items.slice().reverse().filter((message) => !state.seen.has(message.id) &&
            message.status !== 'pending').forEach(showStored);
        } catch (error) { /* tried again at the next tick */ }
      }
      schedulePoll();
    }

    async function requestHandoff() {
      if (state.busy || state.refused) return;
      clearStatus();
      state.busy = true; // no question meanwhile, and one request at a time
      updateComposer();
      try {
        const session = loadSession() || await newConversation();
        const response = await request('/v1/public/conversations/' + session.conversationId + '/handoff', {
          method: 'POST', headers: authorization(session),
        });
        const body = await response.json();
        updateSession({ handedOff: true });
        const notice = addAnswer('assistant');
        notice.text = decodeEntities(body.message);
        notice.finish();
        setHandedOff(true);
      } catch (error) {
        if (error instanceof ApiError && error.status === 409) {
          state.handoffEnabled = false; // the chatbot stopped handing off since the page loaded
          addNote(TEXT.handoffOff);
        } else {
          handleError(error);
        }
      } finally {
        state.busy = false;
        updateComposer();
      }
    }

    // Back to the assistant: the hand-off ends and the chatbot answers the next question.
    async function handBack() {
      if (state.busy || state.refused) return;
      clearStatus();
      state.busy = true;
      updateComposer();
      try {
        const session = loadSession();
        if (session) {
          try {
            await request('/v1/public/conversations/' + session.conversationId + '/handback', {
              method: 'POST', headers: authorization(session),
            });
            updateSession({ handedOff: false, backAfter: state.lastAnswerId });
          } catch (error) {
            if (!(error instanceof ApiError && [401, 404].indexOf(error.status) >= 0)) throw error;
            clearSession(); // expired or gone: the next question starts a new conversation
          }
        }
        addNote(TEXT.handedBack);
        setHandedOff(false);
      } catch (error) {
        handleError(error);
      } finally {
        state.busy = false;
        updateComposer();
      }
    }

    function handleError(error) {
      if (error instanceof ApiError && error.status === 403) {
        state.refused = true;
      }
      if (error instanceof ApiError && error.status === 429) {
        const seconds = error.retryAfter || 30;
        state.blockedUntil = Date.now() + seconds * 1000;
        setTimeout(() => {
          if (Date.now() >= state.blockedUntil) {
            clearStatus();
            updateComposer();
          }
        }, seconds * 1000 + 50);
      }
      showStatus(messageFor(error));
    }

    // -- opening and closing

    function setOpen(open) {
      state.open = open;
      panel.hidden = !open;
      root.classList.toggle('open', open);
      launcher.setAttribute('aria-expanded', String(open));
      // Open, the launcher is a round × that closes: its name says so, and the text goes.
      if (open || !launcherText) launcher.setAttribute('aria-label', open ? TEXT.close : TEXT.open);
      else launcher.removeAttribute('aria-label');
      launcher.classList.toggle('icon-only', open || !launcherText);
      launcherLabel.hidden = open;
      launcherIcon.replaceChild(icon(open ? ICON_CLOSE : ICON_CHAT), launcherIcon.firstChild);
      if (open) {
        if (!state.started) {
          state.started = true;
          start();
        }
        (state.refused ? closeButton : input).focus();
        scrollDown(true);
        state.polls = 0;
        schedulePoll();
      } else {
        clearTimeout(state.pollTimer);
        launcher.focus();
      }
    }

    async function start() {
      if (!config) {
        showStatus(TEXT.network);
        return;
      }
      showWelcome();
      await loadHistory();
      updateComposer();
      offerLead();
    }

    function resizeInput() {
      input.style.height = 'auto';
      input.style.height = Math.min(input.scrollHeight + 2, 120) + 'px';
    }

    launcher.addEventListener('click', () => setOpen(!state.open));
    closeButton.addEventListener('click', () => setOpen(false));
    retryButton.addEventListener('click', () => state.retry && state.retry());
    handoffButton.addEventListener('click', requestHandoff);
    backButton.addEventListener('click', handBack);
    panel.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') {
        event.stopPropagation();
        setOpen(false);
      }
    });
    input.addEventListener('input', () => {
      resizeInput();
      updateComposer();
    });
    input.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        ask(input.value);
      }
    });
    composer.addEventListener('submit', (event) => {
      event.preventDefault();
      ask(input.value);
    });
    window.addEventListener('offline', () => showStatus(TEXT.offline));
    window.addEventListener('online', () => {
      if (statusText.textContent === TEXT.offline) clearStatus();
    });
    updateComposer();
  }

  // A chatbot that refuses this page is the owner's mistake to fix, not the visitor's to see:
  // nothing is shown, and the console says what to change.
  async function boot() {
    let config = null;
    try {
      const response = await request('/v1/public/chatbots/' + chatbotId, {});
      config = await response.json();
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) {
        console.warn('SiteChat: chatbot ' + chatbotId + ' does not exist or is not public;' +
          ' set its visibility to "public" to show the chat.');
        return;
      }
      if (error instanceof ApiError && error.status === 403) {
        console.warn('SiteChat: add ' + location.origin + ' to the allowed_origins of chatbot ' +
          chatbotId + ' to show the chat on this page.');
        return;
      }
      // Otherwise the API could not be reached: the launcher stays and says so when opened.
    }
    mount(config);
  }

  if (document.body) boot();
  else document.addEventListener('DOMContentLoaded', boot);
})();
