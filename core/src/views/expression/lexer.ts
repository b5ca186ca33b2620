import { ExpressionError } from './expression-error.js';

export type Token =
  | { type: 'number'; value: number; at: number }
  | { type: 'string'; value: string; at: number }
  | { type: 'identifier'; value: string; at: number }
  | { type: 'keyword'; value: Keyword; at: number }
  | { type: 'symbol'; value: string; at: number }
  | { type: 'end'; at: number };

const KEYWORDS = ['and', 'or', 'not', 'is', 'null', 'true', 'false', 'in', 'case', 'when', 'then', 'else', 'end'] as const;
export type Keyword = (typeof KEYWORDS)[number];

const SYMBOLS = ['<=', '>=', '!=', '<>', '||', '=', '<', '>', '+', '-', '*', '/', '(', ')', ','];

export function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let at = 0;
  while (at < text.length) {
    const char = text[at]!;
    if (/\s/.test(char)) {
      at++;
      continue;
    }
    const start = at;
    if (/[0-9]/.test(char) || (char === '.' && /[0-9]/.test(text[at + 1] ?? ''))) {
      const match = /^(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?/.exec(text.slice(at))!;
      at += match[0].length;
      if (/[A-Za-z_]/.test(text[at] ?? '')) throw new ExpressionError(`a number cannot run into a name`, text, start);
      tokens.push({ type: 'number', value: Number(match[0]), at: start });
    } else if (char === "'") {
      let value = '';
      at++;
      for (;;) {
        if (at >= text.length) throw new ExpressionError('a string is not closed with a quote', text, start);
        if (text[at] === "'") {
          if (text[at + 1] === "'") {
            value += "'";
            at += 2;
            continue;
          }
          at++;
          break;
        }
        value += text[at];
        at++;
      }
      tokens.push({ type: 'string', value, at: start });
    } else if (/[A-Za-z_]/.test(char)) {
      const word = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(at))![0];
      at += word.length;
      const lower = word.toLowerCase();
      if ((KEYWORDS as readonly string[]).includes(lower)) tokens.push({ type: 'keyword', value: lower as Keyword, at: start });
      else tokens.push({ type: 'identifier', value: word, at: start });
    } else {
      const symbol = SYMBOLS.find((candidate) => text.startsWith(candidate, at));
      if (!symbol) throw new ExpressionError(`unexpected character ${JSON.stringify(char)}`, text, start);
      at += symbol.length;
      tokens.push({ type: 'symbol', value: symbol === '<>' ? '!=' : symbol, at: start });
    }
  }
  tokens.push({ type: 'end', at: text.length });
  return tokens;
}
