// Rich text (HTML of editor fields) shown without ever handing markup to the browser's HTML
// sink: the string is parsed into an inert document (DOMParser runs no script and loads no
// image), then rebuilt as Preact elements from an allow-list of tags, with text as text.
// The server already sanitises rich text on every write (schemas.SanitizeHTML); this is the
// second wall, for data written before that or by other means.
import { h } from 'preact';

// Tags kept (with their children); any other tag is dropped and its text kept, except the
// ones in dropWithContent, whose content goes too.
const allowed = new Set([
  'p', 'br', 'hr', 'div', 'span', 'b', 'strong', 'i', 'em', 'u', 's', 'strike', 'del', 'ins', 'mark', 'small',
  'sub', 'sup', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'blockquote', 'pre', 'code', 'ul', 'ol', 'li', 'dl', 'dt', 'dd',
  'table', 'caption', 'thead', 'tbody', 'tfoot', 'tr', 'th', 'td', 'a',
]);
const dropWithContent = new Set([
  'script', 'style', 'iframe', 'object', 'embed', 'noscript', 'template', 'svg', 'math', 'textarea', 'select',
  'title', 'head', 'frameset', 'noembed', 'xmp', 'form', 'button', 'input',
]);
const voids = new Set(['br', 'hr']);

// safeURL returns url when it is an absolute http, https or mailto address, else ''.
export function safeURL(url) {
  if (typeof url !== 'string') return '';
  let u;
  try {
    u = new URL(url.trim());
  } catch {
    return '';
  }
  return ['http:', 'https:', 'mailto:'].includes(u.protocol) ? u.href : '';
}

function convert(node, key) {
  if (node.nodeType === Node.TEXT_NODE) return node.nodeValue;
  if (node.nodeType !== Node.ELEMENT_NODE) return null; // comments, processing instructions
  const tag = node.localName;
  if (node.namespaceURI !== 'http://www.w3.org/1999/xhtml' || dropWithContent.has(tag)) return null;
  const children = convertAll(node.childNodes);
  if (!allowed.has(tag)) return children;
  const props = { key };
  if (tag === 'a') {
    const href = safeURL(node.getAttribute('href'));
    if (!href) return children;
    Object.assign(props, { href, rel: 'nofollow noopener noreferrer', target: '_blank' });
  }
  if ((tag === 'td' || tag === 'th')) {
    for (const a of ['colspan', 'rowspan']) {
      const n = parseInt(node.getAttribute(a), 10);
      if (n > 1 && n < 1000) props[a] = n;
    }
  }
  return voids.has(tag) ? h(tag, props) : h(tag, props, children);
}

function convertAll(nodes) {
  return Array.from(nodes, (n, i) => convert(n, i));
}

// RichText shows stored rich text: allow-listed markup as elements, everything else as text.
export function RichText({ value }) {
  const doc = new DOMParser().parseFromString(String(value ?? ''), 'text/html');
  return h('div', { class: 'richtext' }, convertAll(doc.body.childNodes));
}
