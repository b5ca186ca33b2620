import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseSizes } from '../bench/cost-curve.js';
import { eventChunks, generateEvents } from '../bench/dataset.js';
import { writeMarkdownBlock } from '../bench/markdown-results.js';

describe('bench tools', () => {
  describe('when the cost curve is given its sizes', () => {
    it('should read k and m suffixes in the order given', () => {
      expect(parseSizes('100k,1m, 5M,20m,2500')).toEqual([100_000, 1_000_000, 5_000_000, 20_000_000, 2500]);
      expect(parseSizes('1.5m')).toEqual([1_500_000]);
    });

    it('should refuse what is not a size, naming it', () => {
      expect(() => parseSizes('1m,lots')).toThrow(/"lots"/);
      expect(() => parseSizes('10')).toThrow(/at least 1000/);
    });
  });

  describe('when events are generated in chunks', () => {
    it('should give the same sequence as one call, chunk by chunk', () => {
      const chunks = [...eventChunks(25_000, 3, 7_000)];
      expect(chunks.map((chunk) => chunk.length)).toEqual([7_000, 7_000, 7_000, 4_000]);
      expect(chunks.flat()).toEqual(generateEvents(25_000, 3));
    });
  });

  describe('when results are written into a Markdown file', () => {
    let directory: string;
    beforeEach(async () => (directory = await mkdtemp(join(tmpdir(), 'bench-markdown-'))));
    afterEach(() => rm(directory, { recursive: true, force: true }));

    it('should create a file that does not exist yet, with the command that wrote it', async () => {
      const file = join(directory, 'new', 'results.md');
      await writeMarkdownBlock(file, 'curve', 'npm run bench -- --sizes 1m', '| a |');
      const text = await readFile(file, 'utf8');
      expect(text).toContain('`npm run bench -- --sizes 1m`');
      expect(text).toMatch(/<!-- curve:start -->\nMeasured \d{4}-\d\d-\d\d on .+\n\n\| a \|\n<!-- curve:end -->/);
    });

    it('should replace only its own block, keeping the text around it and other blocks', async () => {
      const file = join(directory, 'page.md');
      await writeFile(file, 'intro\n<!-- results:start -->\nold results\n<!-- results:end -->\nmiddle\n<!-- curve:start -->\nold curve\n<!-- curve:end -->\nend\n');
      await writeMarkdownBlock(file, 'curve', 'bench', 'new curve');
      const text = await readFile(file, 'utf8');
      expect(text).toContain('old results');
      expect(text).not.toContain('old curve');
      expect(text).toMatch(/^intro\n[\s\S]*middle\n<!-- curve:start -->\nMeasured [^\n]+\n\nnew curve\n<!-- curve:end -->\nend\n$/);
    });

    it('should refuse a file without the markers, naming them', async () => {
      const file = join(directory, 'plain.md');
      await writeFile(file, 'no markers here\n');
      await expect(writeMarkdownBlock(file, 'results', 'bench', 'x')).rejects.toThrow(/<!-- results:start -->/);
    });
  });
});
