// Parse Mermaid diagrams with the real mermaid parser, without a browser.
//
// Usage: node mermaid-parse.mjs [--dump] [FILE... | -]   (no FILE: stdin)
//
// Exits 0 when mermaid.parse() resolves with diagramType "sequence" for
// every file, 1 otherwise with "FILE: error" on stderr for each failure,
// 2 on bad usage. With --dump, also prints what the parser understood, one
// JSON line per file on stdout: the participants (id and the text shown,
// entity codes decoded) and every statement (type, from, to, text), so a
// test can check that escaped names and messages come out as they went in.
// Mermaid loads once for all the files: it takes about 2 s.
import { readFileSync } from 'node:fs';
import { JSDOM } from 'jsdom';

const args = process.argv.slice(2);
const dump = args[0] === '--dump';
if (dump) {
  args.shift();
}
if (args.some((arg) => arg.startsWith('--'))) {
  process.stderr.write('usage: mermaid-parse.mjs [--dump] [FILE... | -]\n');
  process.exit(2);
}
const sources = args.length === 0 ? ['-'] : args;

// NOTE: mermaid reads these browser globals when it is imported (DOMPurify
// and its setup), so they must exist before the dynamic import below.
const dom = new JSDOM('<!DOCTYPE html><html><body></body></html>');
globalThis.window = dom.window;
globalThis.document = dom.window.document;
globalThis.DOMParser = dom.window.DOMParser;

const { default: mermaid } = await import('mermaid');
// NOTE: quiet: mermaid logs with console.info, which goes to stdout, where
// --dump writes JSON.
mermaid.initialize({ startOnLoad: false, logLevel: 'fatal' });

// What a browser shows for a parsed text: mermaid keeps entity codes
// (#59;) as placeholders until it writes the SVG, where they become HTML
// entities (&#59;) that the browser decodes.
function shown(value) {
  if (typeof value !== 'string') {
    return value ?? null;
  }
  const html = value.replace(/\uFB02\u00B0\u00B0/g, '&#')
    .replace(/\uFB02\u00B0/g, '&').replace(/\u00B6\u00DF/g, ';');
  const area = dom.window.document.createElement('textarea');
  area.innerHTML = html;
  return area.value;
}

async function describe(text) {
  const diagram = await mermaid.mermaidAPI.getDiagramFromText(text);
  const db = diagram.db;
  const names = Object.fromEntries(
    Object.entries(db.LINETYPE).map(([name, code]) => [code, name]));
  return {
    diagramType: diagram.type,
    actors: [...db.getActors().entries()].map(([id, actor]) => ({
      id, type: actor.type, description: shown(actor.description),
    })),
    messages: db.getMessages().map((message) => ({
      type: names[message.type] ?? message.type,
      from: message.from ?? null,
      to: message.to ?? null,
      text: shown(message.message),
    })),
  };
}

async function check(source) {
  const name = source === '-' ? 'stdin' : source;
  let text;
  try {
    text = readFileSync(source === '-' ? 0 : source, 'utf8');
  } catch (error) {
    return `${name}: cannot read: ${error.message}`;
  }
  try {
    const result = await mermaid.parse(text);
    if (!result || result.diagramType !== 'sequence') {
      return `${name}: not a sequence diagram: ${result && result.diagramType}`;
    }
    if (dump) {
      process.stdout.write(JSON.stringify(await describe(text)) + '\n');
    }
    return null;
  } catch (error) {
    return `${name}: ${error && error.message ? error.message : error}`;
  }
}

let failed = false;
for (const source of sources) {
  const error = await check(source);
  if (error) {
    failed = true;
    process.stderr.write(error + '\n');
  }
}
process.exit(failed ? 1 : 0);
