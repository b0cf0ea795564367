import { failureOf, parseFixture, removeScratch } from './__fixtures__/parse-fixture';
import { parseMarkdown } from './markdown';

afterAll(removeScratch);

describe('parseMarkdown', () => {
  it('turns headings into sections and keeps lists, tables and code', async () => {
    const source = [
      '# Guide',
      '',
      'Intro with *emphasis*',
      'and a soft break.',
      '',
      '## Install',
      '',
      '1. Download',
      '2. Run',
      '',
      '| Tool | Version |',
      '|------|---------|',
      '| node | 24      |',
      '',
      '```sh',
      'npm   ci',
      '```',
      '',
      '# Usage',
      '',
      'Done.',
    ].join('\n');
    const { pages, meta } = await parseFixture(parseMarkdown, source, { type: 'markdown' });
    expect(pages).toHaveLength(1);
    const { text, sections } = pages[0]!;
    expect(text).toBe(
      'Guide\n\nIntro with emphasis and a soft break.\n\nInstall\n\n1. Download\n2. Run\n\n' +
        'Tool | Version\nTool: node | Version: 24\n\nnpm   ci\n\nUsage\n\nDone.',
    );
    expect(sections).toEqual([
      { offset: 0, path: ['Guide'] },
      { offset: text.indexOf('Install'), path: ['Guide', 'Install'] },
      { offset: text.indexOf('Usage'), path: ['Usage'] },
    ]);
    expect(meta).toEqual({});
  });

  it('splits pages at form feeds and carries the heading path into the next page', async () => {
    const { pages } = await parseFixture(
      parseMarkdown,
      '# One\n\n## Sub\n\nfirst\f\nsecond\n\n## Next\n\nthird\f',
      {
        type: 'markdown',
      },
    );
    expect(pages.map((p) => p.text)).toEqual(['One\n\nSub\n\nfirst', 'second\n\nNext\n\nthird']);
    expect(pages[1]!.sections).toEqual([
      { offset: 0, path: ['One', 'Sub'] },
      { offset: 8, path: ['One', 'Next'] },
    ]);
  });

  it('keeps raw HTML as text rather than markup', async () => {
    const { pages } = await parseFixture(parseMarkdown, 'Say <script>alert(1)</script> <b>hi</b>', {
      type: 'markdown',
    });
    expect(pages[0]!.text).toBe('Say <script>alert(1)</script> <b>hi</b>');
  });

  it('keeps front matter as a block of its own and takes its title', async () => {
    const { pages, meta } = await parseFixture(
      parseMarkdown,
      '---\ntitle: "Release notes"\ntags: [a, b]\n---\n# 1.0\n\nFirst release.\n',
      { type: 'markdown' },
    );
    expect(pages[0]!.text).toBe('title: "Release notes"\ntags: [a, b]\n\n1.0\n\nFirst release.');
    expect(pages[0]!.sections).toEqual([{ offset: pages[0]!.text.indexOf('1.0'), path: ['1.0'] }]);
    expect(meta).toEqual({ title: 'Release notes' });
  });

  it('fails with too_many_pages past the page limit and undecodable_text for binary', async () => {
    expect(
      await failureOf(
        parseFixture(parseMarkdown, 'a\fb\fc\fd', { type: 'markdown', limits: { maxPages: 3 } }),
      ),
    ).toMatchObject({ code: 'too_many_pages' });
    expect(
      await failureOf(
        parseFixture(parseMarkdown, new Uint8Array(Array.from({ length: 256 }, (_, i) => i)), {
          type: 'markdown',
        }),
      ),
    ).toMatchObject({ code: 'undecodable_text' });
  });
});
